// Secret values known to this process. Every line that leaves the tool (logs, errors, JSON) goes
// through redact(), so a password that a child process or a library echoes never reaches the user.

const secrets = new Set<string>();

export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 3) secrets.add(value);
  // A password can also show up URL-encoded (in a connection string).
  if (value && value.length >= 3) {
    const encoded = encodeURIComponent(value);
    if (encoded !== value) secrets.add(encoded);
  }
}

export function redact(text: string): string {
  let out = text;
  for (const secret of secrets) {
    if (out.includes(secret)) out = out.split(secret).join('***');
  }
  // Passwords inside connection URIs we were never told about.
  return out.replace(/(postgres(?:ql)?:\/\/[^:\s/@]+:)[^@\s]+@/gi, '$1***@');
}
