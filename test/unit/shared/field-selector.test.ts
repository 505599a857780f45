/**
 * Field selectors as kube-apiserver parses them for `?fieldSelector=` (k8s.io/apimachinery
 * `fields.ParseSelector`), and the 400 text metrics-server gives for fields it does not support
 * (metrics-server-behaviour.md §1.3 and §1.6, clients.md §1.1).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  escapeFieldValue,
  parseFieldSelector,
  SelectorError,
  unknownField,
  validateFieldSelector,
} from '../../../shared/selectors/index.ts';

function rejects(text: string, message: string): void {
  assert.throws(
    () => parseFieldSelector(text),
    (err: unknown) => {
      assert.ok(err instanceof SelectorError, `${JSON.stringify(text)} throws a SelectorError`);
      assert.equal(err.message, message, JSON.stringify(text));
      return true;
    },
  );
}

/** A field getter over a flat record, as the serve function and the simulated API server provide. */
function fieldsOf(record: Record<string, string>): (field: string) => string | undefined {
  return (field) => (Object.hasOwn(record, field) ? record[field] : undefined);
}

describe('parseFieldSelector: what it accepts', () => {
  test('good selectors print back unchanged (apimachinery TestSelectorParse)', () => {
    for (const text of ['x=a,y=b,z=c', '', 'x!=a,y=b', 'x=a||y\\=b', 'x=a\\=\\=b']) {
      assert.equal(String(parseFieldSelector(text)), text, text);
    }
  });

  test('terms are sorted by their text, so the order they were written in does not matter', () => {
    assert.equal(String(parseFieldSelector('x=a,a=x')), 'a=x,x=a');
    assert.equal(String(parseFieldSelector('a=x,x=a')), 'a=x,x=a');
  });

  test('== means = and prints as =', () => {
    const selector = parseFieldSelector('metadata.name==web-1');
    assert.deepEqual(selector.requirements, [{ field: 'metadata.name', operator: '=', value: 'web-1' }]);
    assert.equal(String(selector), 'metadata.name=web-1');
  });

  test('requirements carry the field, the operator and the unescaped value', () => {
    assert.deepEqual(parseFieldSelector('status.phase=Running,spec.nodeName!=node-1').requirements, [
      { field: 'spec.nodeName', operator: '!=', value: 'node-1' },
      { field: 'status.phase', operator: '=', value: 'Running' },
    ]);
  });

  test('backslash escapes a comma, an equals sign or a backslash in a value (apimachinery TestSplitTerms)', () => {
    // Terms sort by their raw text, and '2' sorts before '=', so k2 comes first.
    const k2 = { field: 'k2', operator: '=', value: 'v2' };
    assert.deepEqual(parseFieldSelector('k=\\,,k2=v2').requirements, [
      k2,
      { field: 'k', operator: '=', value: ',' },
    ]);
    assert.deepEqual(parseFieldSelector('k=\\\\,k2=v2').requirements, [
      k2,
      { field: 'k', operator: '=', value: '\\' },
    ]);
    assert.deepEqual(parseFieldSelector('k=\\\\\\,,k2=v2').requirements, [
      k2,
      { field: 'k', operator: '=', value: '\\,' },
    ]);
    assert.deepEqual(parseFieldSelector('k=\\=').requirements, [{ field: 'k', operator: '=', value: '=' }]);
  });

  test('escapeFieldValue is the inverse of the unescaping (apimachinery TestEscapeValue)', () => {
    const cases: [string, string][] = [
      ['', ''],
      ['a', 'a'],
      ['=', '\\='],
      [',', '\\,'],
      ['\\', '\\\\'],
      ['\\=\\,\\', '\\\\\\=\\\\\\,\\\\'],
    ];
    for (const [value, escaped] of cases) {
      assert.equal(escapeFieldValue(value), escaped);
      assert.equal(parseFieldSelector(`k=${escaped}`).requirements[0]?.value, value, escaped);
    }
  });

  test('other characters, including ! and multi-byte text, are plain value characters', () => {
    assert.deepEqual(parseFieldSelector('a=b!c').requirements, [{ field: 'a', operator: '=', value: 'b!c' }]);
    assert.deepEqual(parseFieldSelector('함=수,목=록').requirements, [
      { field: '목', operator: '=', value: '록' },
      { field: '함', operator: '=', value: '수' },
    ]);
  });

  test('empty terms are skipped, and so is a term with neither field nor value', () => {
    assert.equal(String(parseFieldSelector('a=b,,c=d')), 'a=b,c=d');
    assert.equal(String(parseFieldSelector(',a=a')), 'a=a');
    assert.equal(String(parseFieldSelector('a=a,')), 'a=a');
    for (const text of ['', ',', ',,', '=', '==', '!=']) {
      assert.equal(parseFieldSelector(text).empty, true, JSON.stringify(text));
      assert.equal(parseFieldSelector(text).matches(fieldsOf({})), true, JSON.stringify(text));
    }
    assert.equal(String(parseFieldSelector('=,a=b')), 'a=b');
    assert.deepEqual(parseFieldSelector('=x').requirements, [{ field: '', operator: '=', value: 'x' }]);
    assert.deepEqual(parseFieldSelector('x=').requirements, [{ field: 'x', operator: '=', value: '' }]);
  });

  test('the field name is taken as written, blanks included', () => {
    assert.deepEqual(parseFieldSelector(' metadata.name=x').requirements, [
      { field: ' metadata.name', operator: '=', value: 'x' },
    ]);
  });
});

describe('parseFieldSelector: what it rejects, in apimachinery words', () => {
  test('a term without an operator', () => {
    rejects('x', "invalid selector: 'x'; can't understand 'x'");
    rejects('x=a,b', "invalid selector: 'x=a,b'; can't understand 'b'");
    rejects('x in (a)', "invalid selector: 'x in (a)'; can't understand 'x in (a)'");
    rejects('x in (a,b,c)', "invalid selector: 'x in (a,b,c)'; can't understand 'b'");
  });

  test('an unescaped = in a value, whose character Go prints as its code (61)', () => {
    rejects('x=a||y=b', 'invalid field selector: unescaped character in value: 61');
    rejects('x==a==b', 'invalid field selector: unescaped character in value: 61');
  });

  test('a backslash that escapes nothing it may escape', () => {
    rejects('k=\\a', 'invalid field selector: invalid escape sequence: \\a');
    rejects('k=\\', 'invalid field selector: invalid escape sequence: \\');
    rejects('k=\\\\\\', 'invalid field selector: invalid escape sequence: \\');
    rejects('k=\\!', 'invalid field selector: invalid escape sequence: \\!');
  });
});

describe('FieldSelector.matches', () => {
  test("apimachinery's TestSelectorMatches table", () => {
    const cases: [string, Record<string, string>, boolean][] = [
      ['', { x: 'y' }, true],
      ['x=y', { x: 'y' }, true],
      ['x=y,z=w', { x: 'y', z: 'w' }, true],
      ['x!=y,z!=w', { x: 'z', z: 'a' }, true],
      ['notin=in', { notin: 'in' }, true],
      ['x=y', { x: 'z' }, false],
      ['x=y,z=w', { x: 'w', z: 'w' }, false],
      ['x!=y,z!=w', { x: 'z', z: 'w' }, false],
    ];
    for (const [text, fields, expected] of cases) {
      assert.equal(
        parseFieldSelector(text).matches(fieldsOf(fields)),
        expected,
        `${text} on ${JSON.stringify(fields)}`,
      );
    }
  });

  test('a field the object does not have compares as the empty string, as in Kubernetes', () => {
    assert.equal(parseFieldSelector('x=').matches(fieldsOf({})), true);
    assert.equal(parseFieldSelector('x!=y').matches(fieldsOf({})), true);
    assert.equal(parseFieldSelector('x=y').matches(fieldsOf({})), false);
    assert.equal(parseFieldSelector('x!=').matches(fieldsOf({})), false);
  });

  test('given running and pending pods on two nodes, the selectors a client sends pick the right ones', () => {
    const pods = [
      {
        'metadata.name': 'web-1',
        'metadata.namespace': 'default',
        'spec.nodeName': 'n1',
        'status.phase': 'Running',
      },
      {
        'metadata.name': 'web-2',
        'metadata.namespace': 'default',
        'spec.nodeName': 'n2',
        'status.phase': 'Running',
      },
      {
        'metadata.name': 'job-1',
        'metadata.namespace': 'batch',
        'spec.nodeName': 'n1',
        'status.phase': 'Pending',
      },
    ];
    const pick = (text: string) => {
      const selector = parseFieldSelector(text);
      return pods.filter((p) => selector.matches(fieldsOf(p))).map((p) => p['metadata.name']);
    };
    assert.deepEqual(pick('status.phase=Running'), ['web-1', 'web-2']);
    assert.deepEqual(pick('spec.nodeName=n1,status.phase=Running'), ['web-1']);
    assert.deepEqual(pick('metadata.namespace!=default'), ['job-1']);
    assert.deepEqual(pick('metadata.name=web-2'), ['web-2']);
    assert.deepEqual(pick(''), ['web-1', 'web-2', 'job-1']);
  });

  test('exactMatch tells which value an = term requires, for a direct lookup', () => {
    assert.equal(parseFieldSelector('metadata.name=foo').exactMatch('metadata.name'), 'foo');
    assert.equal(parseFieldSelector('metadata.name==foo').exactMatch('metadata.name'), 'foo');
    assert.equal(parseFieldSelector('metadata.name!=foo').exactMatch('metadata.name'), undefined);
    assert.equal(parseFieldSelector('metadata.namespace=a').exactMatch('metadata.name'), undefined);
  });
});

describe('validateFieldSelector', () => {
  const metricsFields = ['metadata.name', 'metadata.namespace'];

  test('an unsupported field gives exactly the text kubectl shows from metrics-server', () => {
    assert.throws(
      () => validateFieldSelector(parseFieldSelector('spec.nodeName=node-1'), metricsFields),
      (err: unknown) => {
        assert.ok(err instanceof SelectorError);
        assert.equal(
          err.message,
          '"spec.nodeName" is not a known field selector: only "metadata.name", "metadata.namespace"',
        );
        return true;
      },
    );
  });

  test('the supported fields pass, with either operator', () => {
    validateFieldSelector(parseFieldSelector('metadata.name=a,metadata.namespace!=b'), metricsFields);
    validateFieldSelector(parseFieldSelector(''), metricsFields);
  });

  test('with several unsupported fields, the first in sorted term order is named', () => {
    const selector = parseFieldSelector('status.phase=Running,metadata.name=a,spec.nodeName=x');
    assert.equal(unknownField(selector, metricsFields), 'spec.nodeName');
    assert.throws(() => validateFieldSelector(selector, metricsFields), {
      message: /^"spec\.nodeName" is not/,
    });
  });

  test('the message lists whatever fields the caller allows, each quoted', () => {
    assert.throws(() => validateFieldSelector(parseFieldSelector('a=b'), ['metadata.name']), {
      message: '"a" is not a known field selector: only "metadata.name"',
    });
    assert.equal(
      unknownField(parseFieldSelector('spec.nodeName=n'), ['spec.nodeName', 'status.phase']),
      undefined,
    );
  });
});
