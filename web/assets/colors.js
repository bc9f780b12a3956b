// Colors for options: the Okabe–Ito palette, told apart with color vision deficiencies too.

const LIGHT = [
  "#0072B2",
  "#E69F00",
  "#009E73",
  "#CC79A7",
  "#56B4E9",
  "#D55E00",
  "#7A6F00",
  "#555555",
];
const DARK = [
  "#56B4E9",
  "#F0C020",
  "#2EC99A",
  "#E59CC8",
  "#9AD0F5",
  "#FF8A3D",
  "#F0E442",
  "#CCCCCC",
];

/** The color of the i-th option (on a light background, or a dark one). */
export function colorFor(i, dark = false) {
  const palette = dark ? DARK : LIGHT;
  return palette[i % palette.length];
}
