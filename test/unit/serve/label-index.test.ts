/**
 * A namespace's pods with a label selector (the HPA's query) are read through the reader's label index
 * when it has one: the selector is matched against each stored label set, only the matches are read,
 * and the answer is the same as reading the whole namespace; without an index, the namespace is read.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { StoredEntry } from '../../../shared/store/entry.ts';
import { API_VERSIONS, appWith, FakeReader, WEB_1 } from './fake-reader.ts';

class IndexedReader extends FakeReader {
  asked: string[] = [];
  index: boolean;
  constructor(index: boolean) {
    super();
    this.index = index;
  }
  async namespacePodsMatching(
    namespace: string,
    match: (labels: string) => boolean,
  ): Promise<StoredEntry[] | null> {
    this.calls.push(`namespacePodsMatching ${namespace}`);
    if (!this.index) return null;
    const entries = this.namespaces.find((n) => n.namespace === namespace)?.entries ?? [];
    const sets = [...new Set(entries.map((e) => e.labels))];
    this.asked.push(...sets);
    return entries.filter((e) => match(e.labels));
  }
}

for (const api of API_VERSIONS) {
  describe(`metrics.k8s.io/${api.version}`, () => {
    const HPA = `${api.base}/namespaces/default/pods?labelSelector=${encodeURIComponent('app=web,tier=front')}`;
    describe('the HPA query through a label index', () => {
      test('matches each stored label set once and reads only the matches', async () => {
        const reader = new IndexedReader(true);
        const r = await appWith(reader).app.request(HPA);
        assert.equal(r.status, 200);
        assert.equal(await r.text(), api.podList(WEB_1));
        assert.deepEqual(reader.calls, ['namespacePodsMatching default']);
        // default holds nginx {run: nginx} and two pods labelled app=web,tier=front.
        assert.equal(reader.asked.length, 2);
      });

      test('without an index, the whole namespace is read, with the same answer', async () => {
        const reader = new IndexedReader(false);
        const r = await appWith(reader).app.request(HPA);
        assert.equal(await r.text(), api.podList(WEB_1));
        assert.deepEqual(reader.calls, ['namespacePodsMatching default', 'namespacePods default']);
      });

      test('without a label selector, the index is not used', async () => {
        const reader = new IndexedReader(true);
        await appWith(reader).app.request(`${api.base}/namespaces/default/pods`);
        assert.deepEqual(reader.calls, ['namespacePods default']);
      });
    });
  });
}
