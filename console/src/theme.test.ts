import { DEFAULT_THEME, darken } from '@mantine/core';
import { describe, expect, it } from 'vitest';
import {
  AA,
  contrast,
  LUMINANCE_THRESHOLD,
  luminance,
  NON_TEXT,
  PRIMARY_SHADE,
  readable,
  schemeVariables,
  USAGE_COLORS,
} from './theme';

const body = { light: DEFAULT_THEME.white, dark: DEFAULT_THEME.colors.dark[7] };
const colors = Object.entries(DEFAULT_THEME.colors);

describe('console theme contrast (WCAG 2.1 AA, 4.5:1)', () => {
  it('knows the ratios WCAG gives (black on white 21:1, Mantine grey 6 on white 3.32:1)', () => {
    expect(contrast('#000000', '#ffffff')).toBeCloseTo(21, 5);
    expect(contrast('#868e96', '#ffffff')).toBeCloseTo(3.32, 2);
    expect(readable(['#868e96', '#495057'], '#ffffff')).toBe('#495057');
    // No candidate is enough: the last is darkened until it is.
    expect(contrast(readable(['#fab005'], '#ffffff'), '#ffffff')).toBeGreaterThanOrEqual(AA);
  });

  for (const scheme of ['light', 'dark'] as const) {
    it(`${scheme}: every colour's text, light-variant text and outline, dimmed text and links reach AA`, () => {
      const v = schemeVariables(scheme);
      for (const [name, shades] of colors) {
        // Light scheme: the light variant's background, and its hover background.
        const tints = scheme === 'light' ? [shades[1], shades[2]] : [darken(shades[9], 0.5)];
        expect(
          contrast(v[`--mantine-color-${name}-text`] as string, body[scheme]),
          `${name} text`,
        ).toBeGreaterThanOrEqual(4.5);
        for (const tint of tints) {
          expect(
            contrast(v[`--mantine-color-${name}-light-color`] as string, tint),
            `${name} light on ${tint}`,
          ).toBeGreaterThanOrEqual(4.5);
        }
        expect(
          contrast(v[`--mantine-color-${name}-outline`] as string, body[scheme]),
          `${name} outline`,
        ).toBeGreaterThanOrEqual(4.5);
      }
      for (const key of ['--mantine-color-dimmed', '--mantine-color-anchor', '--mantine-color-placeholder']) {
        expect(contrast(v[key] as string, body[scheme]), key).toBeGreaterThanOrEqual(4.5);
      }
    });

    it(`${scheme}: every outcome's colour in usage charts reaches 3:1 on the page (WCAG 1.4.11)`, () => {
      const v = schemeVariables(scheme);
      const drawn = Object.keys(USAGE_COLORS).map((outcome) => v[`--usage-${outcome}`] as string);
      for (const color of drawn)
        expect(contrast(color, body[scheme]), color).toBeGreaterThanOrEqual(NON_TEXT);
      // Six outcomes, six colours.
      expect(new Set(drawn).size).toBe(drawn.length);
    });

    it(`${scheme}: black or white text on every filled colour (autoContrast) reaches AA`, () => {
      for (const [name, shades] of colors) {
        const filled = shades[PRIMARY_SHADE[scheme]];
        // What Mantine picks: black text above the threshold, white below.
        const text = luminance(filled) > LUMINANCE_THRESHOLD ? '#000000' : '#ffffff';
        expect(contrast(filled, text), name).toBeGreaterThanOrEqual(4.5);
      }
    });
  }
});
