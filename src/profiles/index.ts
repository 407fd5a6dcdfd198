/** The profile registry: one line per profile. */
import { inventoryProfile } from './inventory/index.ts';
import { freightProfile } from './freight/index.ts';
import { rebateProfile } from './rebate/index.ts';
import { supplyFeedProfile } from './supply-feed/index.ts';
import { customsProfile } from './customs/index.ts';
import type { Profile, ReferenceKind } from './types.ts';

export const profiles: Readonly<Record<string, Profile>> = {
  [inventoryProfile.id]: inventoryProfile,
  [rebateProfile.id]: rebateProfile,
  [freightProfile.id]: freightProfile,
  [supplyFeedProfile.id]: supplyFeedProfile,
  [customsProfile.id]: customsProfile,
};

/** The profile with this id; throws an Error naming the known profiles otherwise. */
export function getProfile(id: string): Profile {
  const profile = Object.hasOwn(profiles, id) ? profiles[id] : undefined;
  if (profile === undefined) {
    throw new Error(`unknown profile "${id}"; known profiles: ${Object.keys(profiles).join(', ')}`);
  }
  return profile;
}

/** Every kind of reference data the profiles can import, with the profile that reads it. Kinds are unique. */
export function referenceKinds(): Map<string, ReferenceKind & { profile: string }> {
  const kinds = new Map<string, ReferenceKind & { profile: string }>();
  for (const profile of Object.values(profiles)) {
    for (const [kind, def] of Object.entries(profile.references ?? {})) {
      const clash = kinds.get(kind);
      if (clash) throw new Error(`reference kind "${kind}" is declared by profiles ${clash.profile} and ${profile.id}`);
      kinds.set(kind, { ...def, profile: profile.id });
    }
  }
  return kinds;
}
