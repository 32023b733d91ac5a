// The part of sodium-native's API that Chorus calls (the package ships no types of its own).
declare module 'sodium-native' {
  interface Sodium {
    /** writes ciphertext | tag into `ciphertext` (message length + 16 bytes); answers the bytes written */
    crypto_aead_xchacha20poly1305_ietf_encrypt(ciphertext: Buffer, message: Buffer, additionalData: Buffer | null, nsec: null, nonce: Buffer, key: Buffer): number;
    /** writes the message into `message`; throws when the value does not open under `key` and `additionalData` */
    crypto_aead_xchacha20poly1305_ietf_decrypt(message: Buffer, nsec: null, ciphertext: Buffer, additionalData: Buffer | null, nonce: Buffer, key: Buffer): number;
  }
  const sodium: Sodium;
  export default sodium;
}
