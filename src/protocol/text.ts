/** What a validation error (zod's, or its core one) tells of its problems. */
interface IssueList {
  readonly issues: readonly { readonly path: readonly PropertyKey[]; readonly message: string }[];
}

/** A one-line, field-first description of the first validation problem. */
export function describeIssue(error: IssueList, prefix?: string): string {
  const issue = error.issues[0];
  if (!issue) return prefix ? `${prefix}: invalid` : "invalid";
  const path = [prefix, ...issue.path.map(String)].filter(Boolean).join(".");
  return path ? `${path}: ${issue.message}` : issue.message;
}

/** Bytes of `text` as UTF-8: what the size limits count. */
export function utf8Length(text: string): number {
  return new TextEncoder().encode(text).byteLength;
}
