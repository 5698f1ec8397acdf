/**
 * The console's theme: Mantine's, with every text colour it sets checked against WCAG 2.1 AA
 * (4.5:1) in light and in dark. Mantine's defaults fall short in places (grey "dimmed" text 3.3:1,
 * white on the indigo buttons 4.3:1, green badge text on its tint 3.8:1); rather than pick new
 * shades by eye, each text colour here is the first shade of its colour that reaches the ratio on
 * the background it is drawn on, so a new colour or a theme change stays readable.
 */
import {
  type CSSVariablesResolver,
  createTheme,
  DEFAULT_THEME,
  Drawer,
  darken,
  lighten,
  type MantineColorsTuple,
  Menu,
  Modal,
} from '@mantine/core';

/** WCAG 2.1 AA for normal text. A hair above 4.5 so rounding in the browser never drops below. */
export const AA = 4.6;

type Rgb = [number, number, number];

/** `#rgb`, `#rrggbb` or `rgba(r, g, b, a)` (what Mantine's colour functions return) → 0-255 RGB. */
export function parseColor(color: string): Rgb {
  const short = /^#([0-9a-f])([0-9a-f])([0-9a-f])$/i.exec(color);
  if (short) return [short[1], short[2], short[3]].map((d) => Number.parseInt(`${d}${d}`, 16)) as Rgb;
  const hex = /^#([0-9a-f]{6})$/i.exec(color);
  if (hex?.[1]) {
    const n = Number.parseInt(hex[1], 16);
    return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
  }
  const rgb = /^rgba?\(\s*([\d.]+)\s*,\s*([\d.]+)\s*,\s*([\d.]+)/i.exec(color);
  if (rgb) return [Number(rgb[1]), Number(rgb[2]), Number(rgb[3])];
  throw new Error(`unsupported colour ${color}`);
}

/** WCAG relative luminance. */
export function luminance(color: string): number {
  const [r, g, b] = parseColor(color).map((v) => {
    const c = v / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  }) as Rgb;
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** WCAG contrast ratio of two opaque colours. */
export function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}

/**
 * The first of `candidates` that reaches `ratio` (AA for text) on `background`; failing all, the
 * last one darkened (on a light background) or lightened (on a dark one) step by step until it does.
 */
export function readable(candidates: readonly string[], background: string, ratio = AA): string {
  for (const c of candidates) if (contrast(c, background) >= ratio) return c;
  const onLight = luminance(background) > 0.18;
  const last = candidates.at(-1) ?? (onLight ? '#000000' : '#ffffff');
  let c = last;
  for (let step = 0.05; step <= 1 && contrast(c, background) < ratio; step += 0.05) {
    c = onLight ? darken(last, step) : lighten(last, step);
  }
  return c;
}

const LIGHT_BODY = DEFAULT_THEME.white;
const DARK_BODY = DEFAULT_THEME.colors.dark[7];
/**
 * Light variant text is drawn on shade 1, and on shade 2 while hovered (light scheme): readable on
 * the darker of the two is readable on both. Dark scheme: on shade 9 darkened by half.
 */
const lightTint = (shades: MantineColorsTuple) => shades[2];
const darkTint = (shades: MantineColorsTuple) => darken(shades[9], 0.5);

/** Shades from `from` towards the dark end (light scheme) or the light end (dark scheme). */
const darker = (shades: MantineColorsTuple, from: number) => shades.slice(from);
const lighter = (shades: MantineColorsTuple, from: number) => shades.slice(0, from + 1).reverse();

export const PRIMARY_SHADE = { light: 7, dark: 8 } as const;

/** WCAG 2.1 AA for graphics (1.4.11, 3:1), with the same hair above. */
export const NON_TEXT = 3.1;

/**
 * The colour of each outcome in usage charts (`--usage-<outcome>`): a Mantine colour, drawn in the
 * first shade that reaches 3:1 on the page in each scheme.
 */
export const USAGE_COLORS = {
  ok: 'teal',
  throttled: 'orange',
  denied: 'red',
  invalid_signature: 'grape',
  expired: 'blue',
  inactive: 'gray',
} as const;

export const LUMINANCE_THRESHOLD = 0.179;

/** The text colours of one scheme: per colour (text, light variant, outline), dimmed and links. */
export function schemeVariables(scheme: 'light' | 'dark'): Record<string, string> {
  const body = scheme === 'light' ? LIGHT_BODY : DARK_BODY;
  const out: Record<string, string> = {};
  for (const [name, shades] of Object.entries(DEFAULT_THEME.colors)) {
    if (!shades) continue;
    if (scheme === 'light') {
      out[`--mantine-color-${name}-text`] = readable(darker(shades, 6), body);
      out[`--mantine-color-${name}-light-color`] = readable(darker(shades, 7), lightTint(shades));
      out[`--mantine-color-${name}-outline`] = readable(darker(shades, PRIMARY_SHADE.light), body);
    } else {
      out[`--mantine-color-${name}-text`] = readable(lighter(shades, 4), body);
      out[`--mantine-color-${name}-light-color`] = readable(lighter(shades, 1), darkTint(shades));
      out[`--mantine-color-${name}-outline`] = readable(lighter(shades, 4), body);
    }
  }
  const gray = DEFAULT_THEME.colors.gray;
  const dark = DEFAULT_THEME.colors.dark;
  const indigo = DEFAULT_THEME.colors.indigo;
  if (scheme === 'light') {
    out['--mantine-color-dimmed'] = readable(darker(gray, 6), LIGHT_BODY);
    out['--mantine-color-anchor'] = readable(darker(indigo, PRIMARY_SHADE.light), LIGHT_BODY);
    // Placeholders are text too (WCAG counts them).
    out['--mantine-color-placeholder'] = readable(darker(gray, 6), LIGHT_BODY);
  } else {
    out['--mantine-color-dimmed'] = readable(lighter(dark, 2), DARK_BODY);
    out['--mantine-color-anchor'] = readable(lighter(indigo, 4), DARK_BODY);
    out['--mantine-color-placeholder'] = readable(lighter(dark, 2), DARK_BODY);
  }
  for (const [outcome, name] of Object.entries(USAGE_COLORS)) {
    const shades = DEFAULT_THEME.colors[name];
    out[`--usage-${outcome}`] =
      scheme === 'light'
        ? readable(darker(shades, 6), LIGHT_BODY, NON_TEXT)
        : readable(lighter(shades, 6), DARK_BODY, NON_TEXT);
  }
  return out;
}

export const cssVariablesResolver: CSSVariablesResolver = () => ({
  variables: {},
  light: schemeVariables('light'),
  dark: schemeVariables('dark'),
});

export const theme = createTheme({
  primaryColor: 'indigo',
  primaryShade: PRIMARY_SHADE,
  // Text on a filled colour is black or white, whichever reads better: 0.179 is the luminance
  // where both give the same ratio, so every filled colour gets at least 4.58:1 (Mantine's
  // default, 0.3, puts white on colours as light as red 7: 3.8:1).
  autoContrast: true,
  luminanceThreshold: LUMINANCE_THRESHOLD,
  defaultRadius: 'md',
  fontFamily: 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
  focusRing: 'auto',
  components: {
    // Every dialog's × has a name; its header is not a page banner (a second banner landmark).
    Modal: Modal.extend({ defaultProps: { closeButtonProps: { 'aria-label': 'Close dialog' } } }),
    ModalHeader: { defaultProps: { component: 'div' } },
    Drawer: Drawer.extend({ defaultProps: { closeButtonProps: { 'aria-label': 'Close panel' } } }),
    DrawerHeader: { defaultProps: { component: 'div' } },
    // The menu-button pattern: opening a menu focuses its first item (marked data-autofocus), not
    // an invisible placeholder.
    Menu: Menu.extend({ defaultProps: { withInitialFocusPlaceholder: false } }),
  },
});
