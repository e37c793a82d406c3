// The error a promise rejects with; fails the test if it resolves.
export async function rejection(p: Promise<unknown>, expected = 'expected a rejection'): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error(expected);
}
