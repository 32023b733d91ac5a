// Test support: what a confirmation or reminder email shows of a sign-up (its `signup` variable).
export const signupVars = {
  firstName: 'Ana',
  lastName: 'López',
  country: 'MX',
  countryName: 'Mexico',
  consents: { count: true, named: true, namedToOwnCountry: false, wall: false, contact: true },
  letter: { subject: 'My <subject>', body: 'First paragraph.\n\nSecond <script>x</script>.' },
};
