// How an official's acknowledgement of receipt is told apart from an answer: the packet page
// stores it as an answer whose body starts with this mark (the answers table has no flag for it).
// Staff see the mark; the public page and the API show the text without it, labelled in the
// reader's language, and publishing one emails nobody (it is not an answer).

export const ACKNOWLEDGEMENT_MARK = '[acknowledgement of receipt]';

export function isAcknowledgement(body: string): boolean {
  return body.startsWith(ACKNOWLEDGEMENT_MARK);
}
