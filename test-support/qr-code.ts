import jsqr from "jsqr";
import pngjs from "pngjs";

// What a kiosk's camera does with the pairing QR code the console shows: read it from the
// pixels (a Chromium screenshot), not from the page's markup, so a test proves the code
// itself holds the pairing URL.

// jsqr is CommonJS with its function under `default`, which Node's import hands over as is.
const jsQR = jsqr.default;

/** The text of the QR code in a PNG image; throws when there is none to read. */
export function readQrCode(png: Buffer): string {
  const image = pngjs.PNG.sync.read(png);
  const code = jsQR(new Uint8ClampedArray(image.data), image.width, image.height);
  if (code === null) throw new Error(`no QR code found in a ${image.width}×${image.height} image`);
  return code.data;
}
