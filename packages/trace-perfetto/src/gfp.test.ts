import { GfpClass } from '@tierlab/trace-core';
import { describe, expect, it } from 'vitest';
import { classifyGfpMask, gfpMaskOfClasses } from './gfp.js';

const { movable, highmem, zero, write, account, kernel } = GfpClass;

describe('classifyGfpMask', () => {
  // Masks (kernel 6.x bits) of gfp_flags strings met in the shared captures, and the classes
  // @tierlab/trace-text gives those strings.
  it.each([
    ['GFP_HIGHUSER_MOVABLE|__GFP_ZERO|__GFP_COMP', 0x100cca | 0x100 | 0x40000, movable | highmem | zero],
    ['GFP_HIGHUSER_MOVABLE|__GFP_WRITE|__GFP_COMP', 0x100cca | 0x1000 | 0x40000, movable | highmem | write],
    ['GFP_NOFS|__GFP_HIGHMEM|__GFP_MOVABLE|__GFP_NOWARN|__GFP_NORETRY|__GFP_COMP|__GFP_HARDWALL', 0xc40 | 0x2 | 0x8 | 0x2000 | 0x10000 | 0x40000 | 0x100000, movable | highmem],
    ['GFP_NOFS|__GFP_MOVABLE|__GFP_NOFAIL|__GFP_COMP|__GFP_HARDWALL', 0xc40 | 0x8 | 0x8000 | 0x40000 | 0x100000, movable],
    ['GFP_KERNEL', 0xcc0, kernel],
    ['GFP_KERNEL_ACCOUNT|__GFP_ZERO|__GFP_COMP', 0x400cc0 | 0x100 | 0x40000, kernel | account | zero],
    ['GFP_NOWAIT|__GFP_NORETRY|__GFP_COMP|__GFP_THISNODE', 0x2800 | 0x10000 | 0x40000 | 0x200000, kernel],
    ['GFP_ATOMIC|__GFP_RECLAIMABLE|__GFP_NOWARN|__GFP_NORETRY|__GFP_COMP', 0x820 | 0x10 | 0x2000 | 0x10000 | 0x40000, kernel],
    ['GFP_HIGHUSER|__GFP_ACCOUNT', 0x100cc2 | 0x400000, highmem | account],
    ['__GFP_RECLAIMABLE|__GFP_IO|__GFP_NOWARN|__GFP_NORETRY|__GFP_COMP|__GFP_NOMEMALLOC', 0x10 | 0x40 | 0x2000 | 0x10000 | 0x40000 | 0x80000, 0],
    ['GFP_TRANSHUGE', 0x1c24ca, movable | highmem],
    ['none', 0, 0],
  ])('%s', (_flags, mask, classes) => {
    expect(classifyGfpMask(mask)).toBe(classes);
  });
});

describe('gfpMaskOfClasses', () => {
  it('gives a mask with the same classes, for every combination the text reader can give', () => {
    for (let classes = 0; classes < 64; classes++) {
      if ((classes & movable) !== 0 && (classes & kernel) !== 0) continue; // movable drops kernel
      expect(classifyGfpMask(gfpMaskOfClasses(classes)), `classes ${classes}`).toBe(classes);
    }
  });
});
