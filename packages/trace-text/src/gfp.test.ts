import { GfpClass } from '@tierlab/trace-core';
import { describe, expect, it } from 'vitest';
import { classifyGfpFlags } from './gfp.js';

const { movable, highmem, zero, write, account, kernel } = GfpClass;

describe('classifyGfpFlags', () => {
  // Every gfp_flags value that occurs in the shared captures.
  it.each([
    ['GFP_HIGHUSER_MOVABLE|__GFP_ZERO|__GFP_COMP', movable | highmem | zero],
    ['GFP_HIGHUSER_MOVABLE|__GFP_WRITE|__GFP_COMP', movable | highmem | write],
    ['GFP_HIGHUSER_MOVABLE|__GFP_COMP', movable | highmem],
    ['GFP_HIGHUSER_MOVABLE', movable | highmem],
    ['GFP_HIGHUSER_MOVABLE|__GFP_WRITE|__GFP_NOWARN|__GFP_NORETRY|__GFP_COMP', movable | highmem | write],
    ['GFP_NOFS|__GFP_HIGHMEM|__GFP_MOVABLE|__GFP_NOWARN|__GFP_NORETRY|__GFP_COMP|__GFP_HARDWALL', movable | highmem],
    ['GFP_NOFS|__GFP_HIGHMEM|__GFP_MOVABLE|__GFP_NOFAIL|__GFP_HARDWALL', movable | highmem],
    ['GFP_NOFS|__GFP_MOVABLE|__GFP_NOFAIL|__GFP_COMP|__GFP_HARDWALL', movable],
    ['GFP_KERNEL', kernel],
    ['GFP_KERNEL_ACCOUNT|__GFP_ZERO|__GFP_COMP', kernel | account | zero],
    ['GFP_KERNEL|__GFP_ZERO|__GFP_NORETRY|__GFP_COMP', kernel | zero],
    ['GFP_KERNEL|__GFP_RECLAIMABLE|__GFP_NOWARN|__GFP_NORETRY|__GFP_COMP', kernel],
    ['GFP_NOWAIT', kernel],
    ['GFP_NOWAIT|__GFP_NORETRY|__GFP_COMP|__GFP_THISNODE', kernel],
    ['GFP_NOFS|__GFP_NOFAIL|__GFP_COMP|__GFP_HARDWALL', kernel],
    ['GFP_ATOMIC|__GFP_RECLAIMABLE|__GFP_NOWARN|__GFP_NORETRY|__GFP_COMP', kernel],
    ['GFP_HIGHUSER|__GFP_ACCOUNT', highmem | account],
    ['__GFP_RECLAIMABLE|__GFP_IO|__GFP_NOWARN|__GFP_NORETRY|__GFP_COMP|__GFP_NOMEMALLOC', 0],
    ['none', 0],
  ])('%s', (flags, bits) => {
    expect(classifyGfpFlags(flags)).toBe(bits);
  });
});
