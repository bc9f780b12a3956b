// Types of bucket-width.js, the plain ES module the pages can load as it is.

export const BUCKET_MS: number;
export const BUCKET_MINUTES: number;
