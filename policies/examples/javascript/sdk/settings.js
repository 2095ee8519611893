// Settings helpers: strict parsing with messages that name the field, the bad value and the fix
// (the conventions of policies/sdk/src/settings.rs).

import { SEVERITIES } from './findings.js';

const show = (v) => JSON.stringify(v);

/**
 * Parse settings JSON into a plain object, rejecting anything but one JSON object and any field
 * not in `known`. An empty string means `{}`. Throws an Error whose message says what to fix.
 */
export function settingsObject(text, known) {
  const source = typeof text === 'string' && text.trim() !== '' ? text : '{}';
  let value;
  try {
    value = JSON.parse(source);
  } catch (e) {
    throw new Error(`invalid settings: ${e.message}; settings must be one JSON object, e.g. {}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(`invalid settings: ${show(value)} is not a JSON object; write the fields by name, e.g. {}`);
  }
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw new Error(
        `invalid settings: unknown field ${show(key)}; the known fields are ${known.join(', ')}: fix the name or remove it`,
      );
    }
  }
  return value;
}

/** `severity_overrides`: code -> "info" | "warn" | "deny"; unknown codes and severities rejected. */
export function validateSeverityOverrides(overrides, knownCodes) {
  if (overrides === undefined) return {};
  if (overrides === null || typeof overrides !== 'object' || Array.isArray(overrides)) {
    throw new Error(
      `severity_overrides: ${show(overrides)} is not an object; write finding code -> severity, e.g. {"${knownCodes[0]}": "warn"}`,
    );
  }
  for (const [code, severity] of Object.entries(overrides)) {
    if (!knownCodes.includes(code)) {
      throw new Error(`severity_overrides: unknown finding code ${show(code)}; known codes: ${knownCodes.join(', ')}`);
    }
    if (!SEVERITIES.includes(severity)) {
      throw new Error(`severity_overrides.${code}: ${show(severity)} is not a severity; use "info", "warn" or "deny"`);
    }
  }
  return overrides;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

function daysInMonth(year, month) {
  return [31, year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][
    month - 1
  ];
}

/**
 * An RFC 3339 time (`2026-12-24T00:00:00+08:00`, `2026-12-24T00:00:00Z`, optional fraction) as
 * milliseconds since the Unix epoch, or `undefined` when the text is not one. Pure arithmetic:
 * it never reads a clock.
 */
export function parseRfc3339(text) {
  if (typeof text !== 'string') return undefined;
  const m = RFC3339.exec(text);
  if (m === null) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  let offset = 0;
  if (m[8] === undefined) {
    const [oh, om] = [Number(m[10]), Number(m[11])];
    if (oh > 23 || om > 59) return undefined;
    offset = (oh * 60 + om) * (m[9] === '-' ? -1 : 1);
  }
  const fraction = m[7] === undefined ? 0 : Math.floor(Number(`0${m[7]}`) * 1000);
  return Date.UTC(year, month - 1, day, hour, minute, second) + fraction - offset * 60_000;
}
