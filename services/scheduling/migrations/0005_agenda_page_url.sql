-- Invites and mails link the agenda's page, for people, not its JSON: agendas published
-- before linked `…/meetings/<id>/agenda`, whose page is `…/meetings/<id>/agenda.html`.
UPDATE meetings SET agenda_url = agenda_url || '.html'
WHERE agenda_url ~ '/meetings/[0-9a-f-]{36}/agenda$';
