// What an official may attach to an answer: the limits and types the API enforces
// (delivery/attachment.ts, which also checks each file's first bytes) and the packet page
// checks before it sends a file.
export const MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024;
export const MAX_ATTACHMENTS = 3;

/** each type an attachment may have, with the extensions a file of it may carry (the first is given to a name with none) */
export const ATTACHMENT_EXTENSIONS = {
  'application/pdf': ['pdf'],
  'image/png': ['png'],
  'image/jpeg': ['jpg', 'jpeg'],
  'text/plain': ['txt'],
} as const satisfies Record<string, readonly string[]>;

export type AttachmentType = keyof typeof ATTACHMENT_EXTENSIONS;
export const ATTACHMENT_TYPES = Object.keys(ATTACHMENT_EXTENSIONS) as AttachmentType[];

export function isAttachmentType(value: string): value is AttachmentType {
  return Object.hasOwn(ATTACHMENT_EXTENSIONS, value);
}

/** The type a file name's extension says, when it is one an attachment may have. */
export function attachmentTypeOfName(filename: string): AttachmentType | undefined {
  const ext = filename.split('.').pop()?.toLowerCase() ?? '';
  return ATTACHMENT_TYPES.find((t) => (ATTACHMENT_EXTENSIONS[t] as readonly string[]).includes(ext));
}
