import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Search attributes are never encrypted: they hold ids, profile names, states and counts, never record data. */
export const SluiceBatchId = defineSearchAttributeKey('SluiceBatchId', SearchAttributeType.KEYWORD);
export const SluiceProfile = defineSearchAttributeKey('SluiceProfile', SearchAttributeType.KEYWORD);
export const SluiceStatus = defineSearchAttributeKey('SluiceStatus', SearchAttributeType.KEYWORD);
export const SluicePendingReview = defineSearchAttributeKey('SluicePendingReview', SearchAttributeType.INT);

/** `--search-attribute` arguments for `temporal server start-dev`, and the list `sluice` registers. */
export const SEARCH_ATTRIBUTE_DECLARATIONS: readonly string[] = [
  'SluiceBatchId=Keyword',
  'SluiceProfile=Keyword',
  'SluiceStatus=Keyword',
  'SluicePendingReview=Int',
];
