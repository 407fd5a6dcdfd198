/**
 * The code lists a customs invoice is checked against: Incoterms 2020, ISO 4217 currencies and ISO 3166-1 countries.
 * Kept here (no dependency) and tested against Node's Intl data, so a new code is a one-line change.
 */

/** The eleven Incoterms 2020 rules. */
export const INCOTERMS_2020 = ['EXW', 'FCA', 'CPT', 'CIP', 'DAP', 'DPU', 'DDP', 'FAS', 'FOB', 'CFR', 'CIF'] as const;
export type Incoterm = (typeof INCOTERMS_2020)[number];

/** Rules of earlier editions that users still write, and what replaced them (for the error message). */
export const RETIRED_INCOTERMS: Readonly<Record<string, string>> = {
  DAT: 'DPU (Incoterms 2020 renamed DAT)',
  DDU: 'DAP (retired in Incoterms 2010)',
  DAF: 'DAP (retired in Incoterms 2010)',
  DES: 'DAP (retired in Incoterms 2010)',
  DEQ: 'DPU (retired in Incoterms 2010)',
};

export const isIncoterm = (code: string): code is Incoterm => (INCOTERMS_2020 as readonly string[]).includes(code);

/**
 * ISO 3166-1 alpha-2: the 249 assigned codes, plus XK (Kosovo), which customs administrations (the EU's among them)
 * use as a user-assigned code.
 */
export const COUNTRY_CODES: ReadonlySet<string> = new Set(
  (
    'AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ ' +
    'BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ ' +
    'CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ ' +
    'DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR ' +
    'GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ' +
    'ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ ' +
    'LA LB LC LI LK LR LS LT LU LV LY ' +
    'MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ ' +
    'NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW ' +
    'SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ ' +
    'TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW ' +
    'XK'
  ).split(' '),
);

/**
 * ISO 4217 codes Node's `Intl.supportedValuesOf('currency')` leaves out: fund codes, precious metals and bond-market
 * units, which are valid on an invoice though rare, and codes newer than some ICU versions.
 */
const EXTRA_CURRENCIES =
  'BOV CHE CHW CLF COU MXV USN UYI UYW VED XAG XAU XPD XPT XBA XBB XBC XBD XUA XCG ZWG SLE'.split(' ');
/** Codes some ICU versions still list after ISO withdrew them: an invoice in them is an error. */
const WITHDRAWN_CURRENCIES = 'HRK CUC SLL ZWL VEF MRO STD LTL LVL EEK'.split(' ');

export const CURRENCY_CODES: ReadonlySet<string> = new Set(
  [...Intl.supportedValuesOf('currency'), ...EXTRA_CURRENCIES].filter((c) => !WITHDRAWN_CURRENCIES.includes(c)),
);
