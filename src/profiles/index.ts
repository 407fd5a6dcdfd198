/** The profile registry: one line per profile. */
import { inventoryProfile } from './inventory/index.ts';
import type { Profile } from './types.ts';

export const profiles: Readonly<Record<string, Profile>> = {
  [inventoryProfile.id]: inventoryProfile,
};

/** The profile with this id; throws an Error naming the known profiles otherwise. */
export function getProfile(id: string): Profile {
  const profile = Object.hasOwn(profiles, id) ? profiles[id] : undefined;
  if (profile === undefined) {
    throw new Error(`unknown profile "${id}"; known profiles: ${Object.keys(profiles).join(', ')}`);
  }
  return profile;
}
