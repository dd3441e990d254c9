import { isTierlabError, metricNames } from '@tierlab/memory-tier-api';
import { describe, expect, it } from 'vitest';
import { metricDirections, metricUnits } from './metric-directions.js';
import { defaultThresholds, formatThreshold, parseThreshold, resolveThresholds } from './thresholds.js';

function usageError(f: () => unknown): string {
  try {
    f();
  } catch (error) {
    if (isTierlabError(error) && error.code === 'USAGE') return error.message;
    throw error;
  }
  throw new Error('no error thrown');
}

describe('thresholds', () => {
  it('every metric has a direction and a unit', () => {
    for (const name of metricNames) {
      expect(['lower', 'higher', 'neither']).toContain(metricDirections[name]);
      expect(['ns', 'bytes', 'count', 'share']).toContain(metricUnits[name]);
    }
    expect(metricDirections.fastTierAccessShare).toBe('higher');
    expect(metricDirections.totalCostNs).toBe('lower');
    expect(metricDirections.accesses).toBe('neither');
  });

  it('relative, absolute and percentage points', () => {
    expect(parseThreshold('totalCostNs=+2%')).toEqual({ metric: 'totalCostNs', kind: 'relative', amount: 0.02, text: '+2%' });
    expect(parseThreshold('pgpromoteSuccess=+5')).toEqual({ metric: 'pgpromoteSuccess', kind: 'absolute', amount: 5, text: '+5' });
    expect(parseThreshold('fastTierAccessShare=-1pt')).toEqual({ metric: 'fastTierAccessShare', kind: 'absolute', amount: 0.01, text: '-1pt' });
    expect(parseThreshold('fastTierAccessShare=-0.02')).toEqual({ metric: 'fastTierAccessShare', kind: 'absolute', amount: 0.02, text: '-0.02' });
    // The sign may be left out: it follows from the direction.
    expect(parseThreshold(' meanAccessCostNs = 0.5% ')).toEqual({ metric: 'meanAccessCostNs', kind: 'relative', amount: 0.005, text: '+0.5%' });
    expect(parseThreshold('fastTierAccessShare=2pt')).toMatchObject({ text: '-2pt' });
    expect(parseThreshold('accesses=0')).toEqual({ metric: 'accesses', kind: 'absolute', amount: 0, text: '0' });
    expect(parseThreshold('totalCostNs=off')).toEqual({ metric: 'totalCostNs', off: true });
  });

  it('bad thresholds are usage errors that say what to write', () => {
    expect(usageError(() => parseThreshold('totalCostNs'))).toMatch(/bad threshold: expected metric=\+2%/);
    expect(usageError(() => parseThreshold('totalCost=+1%'))).toMatch(/unknown metric 'totalCost' in threshold: expected one of accesses, reads/);
    expect(usageError(() => parseThreshold('totalCostNs=-1%'))).toMatch(/lower is better, so a regression is a rise: expected totalCostNs=\+1%/);
    expect(usageError(() => parseThreshold('fastTierAccessShare=+1pt'))).toMatch(/higher is better, so a regression is a fall: expected fastTierAccessShare=-1pt/);
    expect(usageError(() => parseThreshold('totalCostNs=+1pt'))).toMatch(/'pt' \(percentage points\) applies only to shares/);
    expect(usageError(() => parseThreshold('totalCostNs=+x%'))).toMatch(/bad threshold/);
  });

  it('defaults gate the headline metrics; given ones override or drop them', () => {
    expect(resolveThresholds().map(formatThreshold)).toEqual(['meanAccessCostNs=+1%', 'fastTierAccessShare=-1pt', 'totalCostNs=+1%']);
    expect(defaultThresholds).toHaveLength(3);
    expect(resolveThresholds(['totalCostNs=+5%', 'fastTierAccessShare=off', 'pgsteal=+0']).map(formatThreshold)).toEqual([
      'meanAccessCostNs=+1%',
      'totalCostNs=+5%',
      'pgsteal=+0',
    ]);
    expect(resolveThresholds(['pgsteal=+10'], { defaults: false }).map(formatThreshold)).toEqual(['pgsteal=+10']);
    expect(() => resolveThresholds([{ metric: 'totalCostNs', kind: 'relative', amount: -1, text: '-1' }])).toThrow(TypeError);
  });
});
