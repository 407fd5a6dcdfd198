/**
 * Numbers and dates as a document's locale writes them, parsed by hand and exactly. `1.234,56` is 1234.56 in de-DE
 * and an error in en-US: the parser never guesses, because a silently wrong number on a customs invoice (a value off
 * by a factor of 1000) is worse than a record held for a person to look at.
 *
 * A locale fixes the decimal separator, the one grouping separator it accepts (in groups of exactly three digits),
 * and the day/month order of dates. ISO dates (`YYYY-MM-DD`) are accepted in every locale. `iso` is the
 * machine locale of XML Schema and JSON numbers: a decimal point, no grouping, ISO dates only.
 */
export const LOCALES = ['en-US', 'en-GB', 'de-DE', 'fr-FR', 'iso'] as const;
export type Locale = (typeof LOCALES)[number];

interface LocaleRules {
  decimal: string;
  /** Grouping separators accepted (one kind per number). */
  groups: readonly string[];
  /** Date order besides ISO, and its separator. */
  date?: { order: 'DMY' | 'MDY'; separator: string };
  /** How a person would describe the rules, for error messages. */
  describe: string;
}

const RULES: Readonly<Record<Locale, LocaleRules>> = {
  'en-US': {
    decimal: '.',
    groups: [','],
    date: { order: 'MDY', separator: '/' },
    describe: "en-US writes 1,234.56 (',' groups thousands, '.' marks decimals) and dates MM/DD/YYYY",
  },
  'en-GB': {
    decimal: '.',
    groups: [','],
    date: { order: 'DMY', separator: '/' },
    describe: "en-GB writes 1,234.56 (',' groups thousands, '.' marks decimals) and dates DD/MM/YYYY",
  },
  'de-DE': {
    decimal: ',',
    groups: ['.'],
    date: { order: 'DMY', separator: '.' },
    describe: "de-DE writes 1.234,56 ('.' groups thousands, ',' marks decimals) and dates DD.MM.YYYY",
  },
  'fr-FR': {
    decimal: ',',
    // A space, a no-break space or a narrow no-break space (what Intl.NumberFormat('fr-FR') writes).
    groups: [' ', '\u00a0', '\u202f'],
    date: { order: 'DMY', separator: '/' },
    describe: "fr-FR writes 1 234,56 (a space groups thousands, ',' marks decimals) and dates DD/MM/YYYY",
  },
  iso: {
    decimal: '.',
    groups: [],
    describe: "iso (XML Schema, JSON) writes 1234.56 (no grouping, '.' marks decimals) and dates YYYY-MM-DD",
  },
};

export const isLocale = (value: unknown): value is Locale => (LOCALES as readonly unknown[]).includes(value);

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** One compiled pattern per locale: sign, integer part (plain or grouped by threes), optional fraction. */
const PATTERNS = new Map<Locale, RegExp>(
  Object.entries(RULES).map(([locale, r]) => {
    const grouped = r.groups.map((g) => `\\d{1,3}(?:${escape(g)}\\d{3})+`);
    const integer = ['\\d+', ...grouped].join('|');
    const fraction = locale === 'iso' ? `(?:${escape(r.decimal)}\\d*)?` : `(?:${escape(r.decimal)}\\d+)?`;
    // iso also takes `.5`, as xsd:decimal does.
    const body = locale === 'iso' ? `(?:(?:${integer})${fraction}|\\.\\d+)` : `(?:${integer})${fraction}`;
    return [locale as Locale, new RegExp(`^([+-]?)(${body})$`)];
  }),
);

/**
 * Parses a number written in `locale` into canonical decimal text (`-1234.50`). JSON numbers are not text in any
 * locale: they are taken as they are (when finite and not in exponent form, which no amount needs).
 */
export function parseNumber(value: string | number, locale: Locale): Parsed<string> {
  if (typeof value === 'number') {
    const text = String(value);
    if (!Number.isFinite(value) || /e/i.test(text)) {
      return { ok: false, message: `${text} is not a plain decimal number (write very large or small ones as text)` };
    }
    return { ok: true, value: text };
  }
  const text = value.trim().replace(/^\u2212/, '-');
  const rules = RULES[locale];
  const m = PATTERNS.get(locale)!.exec(text);
  if (m === null) {
    return { ok: false, message: `${JSON.stringify(value)} is not a number as ${rules.describe}` };
  }
  const negative = m[1] === '-';
  let body = m[2]!;
  for (const g of rules.groups) body = body.split(g).join('');
  const [digits = '', fraction = ''] = body.split(rules.decimal);
  const whole = digits.replace(/^0+(?=\d)/, '') || '0';
  const canonical = fraction === '' ? whole : `${whole}.${fraction}`;
  // `-0` and `-0.00` are zero: keep the canonical text free of a negative zero.
  const isZero = /^0(?:\.0+)?$/.test(canonical);
  return { ok: true, value: negative && !isZero ? `-${canonical}` : canonical };
}

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Parses a date written in `locale` (or ISO) into `YYYY-MM-DD`; impossible dates (Feb 30) are errors. */
export function parseDate(value: string, locale: Locale): Parsed<string> {
  const text = value.trim();
  const rules = RULES[locale];
  let y: number;
  let m: number;
  let d: number;
  const iso = ISO_DATE.exec(text);
  if (iso) {
    [y, m, d] = [Number(iso[1]), Number(iso[2]), Number(iso[3])];
  } else {
    const local = rules.date
      ? new RegExp(`^(\\d{1,2})${escape(rules.date.separator)}(\\d{1,2})${escape(rules.date.separator)}(\\d{4})$`).exec(
          text,
        )
      : null;
    if (!local || !rules.date) {
      return { ok: false, message: `${JSON.stringify(value)} is not a date as ${rules.describe}` };
    }
    const [a, b] = [Number(local[1]), Number(local[2])];
    [d, m] = rules.date.order === 'DMY' ? [a, b] : [b, a];
    y = Number(local[3]);
  }
  const date = new Date(Date.UTC(y, m - 1, d));
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== m - 1 || date.getUTCDate() !== d || y < 1900) {
    return { ok: false, message: `${JSON.stringify(value)} is not a calendar date (read as ${locale})` };
  }
  return { ok: true, value: `${y}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}` };
}

/**
 * Writes canonical decimal text as `locale` does, optionally with grouping: the generator's and tests' inverse of
 * `parseNumber` (`groupWith` picks among a locale's grouping separators).
 */
export function formatNumber(canonical: string, locale: Locale, grouping = false, groupWith = 0): string {
  const rules = RULES[locale];
  const negative = canonical.startsWith('-');
  const [whole = '', fraction] = (negative ? canonical.slice(1) : canonical).split('.');
  const group = rules.groups[groupWith % Math.max(1, rules.groups.length)];
  const grouped = grouping && group !== undefined ? whole.replace(/\B(?=(\d{3})+(?!\d))/g, group) : whole;
  const text = fraction === undefined ? grouped : `${grouped}${rules.decimal}${fraction}`;
  return negative ? `-${text}` : text;
}

/** Writes an ISO date as `locale` does (ISO for `iso`). */
export function formatDate(isoDate: string, locale: Locale): string {
  const rules = RULES[locale];
  const [y, m, d] = isoDate.split('-');
  if (!rules.date) return isoDate;
  const parts = rules.date.order === 'DMY' ? [d, m, y] : [m, d, y];
  return parts.join(rules.date.separator);
}
