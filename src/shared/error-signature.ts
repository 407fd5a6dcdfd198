/** The error signature of a held record: what is wrong with it, without the values, so alike records group together. */
export function errorSignature(issues: readonly { path: string; code: string }[]): string {
  return [...new Set(issues.map((i) => `${i.path || 'record'}:${i.code}`))].sort().join('+');
}
