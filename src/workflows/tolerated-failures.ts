/**
 * Tolerated failure thresholds per reason code, like Step Functions' ToleratedFailurePercentage but per reason:
 * held records of one reason (or of all, under `*`) above the tolerated percentage of the batch's records stop it.
 */

/** The reason to stop, or null while every threshold holds. */
export function toleranceExceeded(
  tolerated: Record<string, number> | undefined,
  heldByReason: Record<string, number>,
  plannedRecords: number,
): string | null {
  if (!tolerated || plannedRecords <= 0) return null;
  const totalHeld = Object.values(heldByReason).reduce((a, b) => a + b, 0);
  for (const [code, percent] of Object.entries(tolerated).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const held = code === '*' ? totalHeld : (heldByReason[code] ?? 0);
    if (held * 100 > percent * plannedRecords) {
      const label = code === '*' ? 'held records of any reason' : `records held as ${code}`;
      const share = Math.round((held * 10000) / plannedRecords) / 100;
      return `${held} ${label} of ${plannedRecords} (${share} %) exceed the tolerated ${percent} %`;
    }
  }
  return null;
}
