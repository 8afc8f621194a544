// Reads iCalendar files with ical.js (Mozilla's parser, as in Thunderbird) and prints, as
// JSON, every occurrence it computes: UID, RECURRENCE-ID, UTC start and end, STATUS and
// the zone each time was read in. Files come as paths on the command line.
//
//   node read.mjs FILE... [--until 2040-01-01T00:00:00Z]
//
// Recurring events are expanded until --until (or 500 occurrences) with their overridden
// occurrences related to them, as Thunderbird does.
import { readFileSync } from "node:fs";
import ICAL from "ical.js";

const args = process.argv.slice(2);
const untilAt = args.indexOf("--until");
const until = untilAt >= 0 ? new Date(args.splice(untilAt, 2)[1]) : new Date("2040-01-01T00:00:00Z");
const MAX_OCCURRENCES = 500;

function instant(time) {
  return time.toJSDate().toISOString().replace(".000Z", "Z");
}

function zoneOf(time) {
  return time.isDate ? "date" : time.zone ? time.zone.tzid : "floating";
}

function occurrence(uid, recurrenceId, start, end, item) {
  return {
    uid,
    recurrence_id: recurrenceId ? instant(recurrenceId) : null,
    start: instant(start),
    end: instant(end),
    start_zone: zoneOf(start),
    end_zone: zoneOf(end),
    status: item.component.getFirstPropertyValue("status") || null,
  };
}

function read(text) {
  const calendar = new ICAL.Component(ICAL.parse(text));
  for (const timezone of calendar.getAllSubcomponents("vtimezone")) {
    ICAL.TimezoneService.register(timezone);
  }
  const byUid = new Map();
  for (const component of calendar.getAllSubcomponents("vevent")) {
    const uid = component.getFirstPropertyValue("uid");
    if (!byUid.has(uid)) byUid.set(uid, []);
    byUid.get(uid).push(component);
  }
  const found = [];
  for (const [uid, components] of byUid) {
    const masters = components.filter((c) => !c.hasProperty("recurrence-id"));
    const exceptions = components.filter((c) => c.hasProperty("recurrence-id"));
    if (masters.length === 0) {
      // An iTIP message about single occurrences, e.g. CANCEL of one date of a series.
      for (const component of exceptions) {
        const event = new ICAL.Event(component);
        found.push(occurrence(uid, event.recurrenceId, event.startDate, event.endDate, event));
      }
      continue;
    }
    const event = new ICAL.Event(masters[0]);
    for (const exception of exceptions) event.relateException(exception);
    if (!event.isRecurring()) {
      found.push(occurrence(uid, null, event.startDate, event.endDate, event));
      continue;
    }
    const iterator = event.iterator();
    for (let count = 0, next; (next = iterator.next()) && count < MAX_OCCURRENCES; count++) {
      if (next.toJSDate() > until) break;
      const details = event.getOccurrenceDetails(next);
      found.push(
        occurrence(uid, details.recurrenceId, details.startDate, details.endDate, details.item),
      );
    }
  }
  return {
    method: calendar.getFirstPropertyValue("method") || null,
    timezones: calendar.getAllSubcomponents("vtimezone").map((tz) => tz.getFirstPropertyValue("tzid")),
    occurrences: found,
  };
}

const results = {};
for (const path of args) {
  results[path] = read(readFileSync(path, "utf-8"));
}
process.stdout.write(JSON.stringify(results));
