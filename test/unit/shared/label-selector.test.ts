/**
 * Label selectors as kube-apiserver parses them for `?labelSelector=` (k8s.io/apimachinery `labels.Parse`).
 * Accept/reject cases and canonical strings come from apimachinery's selector_test.go; error texts are
 * apimachinery's (one, `app:monolith`, exactly as users have reported it from a real API server).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Labels, parseLabelSelector, SelectorError } from '../../../shared/selectors/index.ts';

const VALUE_RULE =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const NAME_RULE =
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

function rejects(text: string, message: string): void {
  assert.throws(
    () => parseLabelSelector(text),
    (err: unknown) => {
      assert.ok(err instanceof SelectorError, `${JSON.stringify(text)} throws a SelectorError`);
      assert.equal(err.message, message, JSON.stringify(text));
      return true;
    },
  );
}

describe('parseLabelSelector: what it accepts', () => {
  test('equality-based selectors print back without blanks (apimachinery TestSelectorParse)', () => {
    const cases: [string, string][] = [
      ['x=a,y=b,z=c', 'x=a,y=b,z=c'],
      ['', ''],
      ['x!=a,y=b', 'x!=a,y=b'],
      ['x=', 'x='],
      ['x= ', 'x='],
      ['x=,z= ', 'x=,z='],
      ['x= ,z= ', 'x=,z='],
      ['!x', '!x'],
      ['x>1', 'x>1'],
      ['x>1,z<5', 'x>1,z<5'],
      ['x==a', 'x==a'],
    ];
    for (const [text, canonical] of cases) assert.equal(String(parseLabelSelector(text)), canonical, text);
  });

  test('set-based selectors parse to sorted, de-duplicated values (apimachinery TestSetSelectorParser)', () => {
    const cases: [string, string][] = [
      ['\rx', 'x'],
      ['this-is-a-dns.domain.com/key-with-dash', 'this-is-a-dns.domain.com/key-with-dash'],
      [
        'this-is-another-dns.domain.com/key-with-dash in (so,what)',
        'this-is-another-dns.domain.com/key-with-dash in (so,what)',
      ],
      [
        '0.1.2.domain/99 notin (10.10.100.1, tick.tack.clock)',
        '0.1.2.domain/99 notin (10.10.100.1,tick.tack.clock)',
      ],
      ['foo  in\t (abc)', 'foo in (abc)'],
      ['x notin\n (abc)', 'x notin (abc)'],
      ['x  notin\t\t\t(abc,def)', 'x notin (abc,def)'],
      ['x in (abc,def)', 'x in (abc,def)'],
      ['x in (def,abc)', 'x in (abc,def)'],
      ['x in (abc,)', 'x in (,abc)'],
      ['x in (abc,abc)', 'x in (abc)'],
      ['x in ()', 'x in ()'],
      ['x in (a,,)', 'x in (,a)'],
      ['x in (a,,,)', 'x in (,a)'],
      ['x in (a,,,,,,)', 'x in (,a)'],
      ['x in (a,,a,,a,,a,,)', 'x in (,a)'],
      ['x notin (abc,,def),bar,z in (),w', 'bar,w,x notin (,abc,def),z in ()'],
      ['x,y in (a)', 'x,y in (a)'],
      ['x=a', 'x=a'],
      ['x>1', 'x>1'],
      ['x<7', 'x<7'],
      ['x=a,y!=b', 'x=a,y!=b'],
      ['x=a,y!=b,z in (h,i,j)', 'x=a,y!=b,z in (h,i,j)'],
      ['x notin ( )', 'x notin ()'],
      ['x notin (, a)', 'x notin (,a)'],
      ['a ', 'a'],
      ['a in (x,y,notin, z,in)', 'a in (in,notin,x,y,z)'],
      ['notin=in', 'notin=in'],
      ['in in (in)', 'in in (in)'],
    ];
    for (const [text, canonical] of cases) assert.equal(String(parseLabelSelector(text)), canonical, text);
  });

  test('the canonical string does not depend on the order requirements were written in', () => {
    assert.equal(String(parseLabelSelector('x=a,a=x')), 'a=x,x=a');
    assert.equal(String(parseLabelSelector('a=x,x=a')), 'a=x,x=a');
  });

  test('requirements are exposed sorted by key, with operator names as apimachinery spells them', () => {
    assert.deepEqual(parseLabelSelector('b=1,a in (y,x),!c,d,e!=2,f notin (z),g>3,h<4,i==5').requirements, [
      { key: 'a', operator: 'in', values: ['x', 'y'] },
      { key: 'b', operator: '=', values: ['1'] },
      { key: 'c', operator: '!', values: [] },
      { key: 'd', operator: 'exists', values: [] },
      { key: 'e', operator: '!=', values: ['2'] },
      { key: 'f', operator: 'notin', values: ['z'] },
      { key: 'g', operator: 'gt', values: ['3'] },
      { key: 'h', operator: 'lt', values: ['4'] },
      { key: 'i', operator: '==', values: ['5'] },
    ]);
  });

  test('the empty selector, or only blanks, is empty and selects everything', () => {
    for (const text of ['', ' ', '\t\n ']) {
      const selector = parseLabelSelector(text);
      assert.equal(selector.empty, true, JSON.stringify(text));
      assert.equal(selector.matches({ x: 'y' }), true);
      assert.equal(selector.matches(undefined), true);
    }
    assert.equal(parseLabelSelector('x').empty, false);
  });

  test('keys may carry a DNS subdomain prefix and be up to 63 characters; values up to 63', () => {
    const name63 = 'a'.repeat(63);
    assert.equal(String(parseLabelSelector(`${name63}=${name63}`)), `${name63}=${name63}`);
    assert.equal(String(parseLabelSelector('app.kubernetes.io/name=x')), 'app.kubernetes.io/name=x');
    assert.equal(String(parseLabelSelector('My_Key.1-2=Value_1.2-3')), 'My_Key.1-2=Value_1.2-3');
  });

  test("a NUL character ends the text where a token would start and is skipped right after one, as Go's lexer does", () => {
    assert.equal(String(parseLabelSelector('x=a \u0000,!!!')), 'x=a');
    assert.equal(String(parseLabelSelector('x=a\u0000,y')), 'x=a,y');
  });
});

describe('parseLabelSelector: what it rejects, in apimachinery words', () => {
  test('structural errors outside a requirement', () => {
    rejects('(((', "found '(', expected: !, identifier, or 'end of string'");
    rejects(',x,y', "found ',', expected: !, identifier, or 'end of string'");
    rejects('x,', "found '', expected: identifier after ','");
    rejects('x,,y', "found ',', expected: identifier after ','");
    rejects('a in (xyz),', "found '', expected: identifier after ','");
    rejects('a in (xyz)b notin ()', "found 'b', expected: ',' or 'end of string'");
    rejects('x==a==b', "found '==', expected: ',' or 'end of string'");
    rejects('!x=a', "found '=', expected: ',' or 'end of string'");
  });

  test('errors inside a requirement are prefixed with "unable to parse requirement"', () => {
    rejects('(', "found '(', expected: !, identifier, or 'end of string'");
    rejects('a (', "unable to parse requirement: found '(', expected: in, notin, =, ==, !=, gt, lt");
    rejects(
      'x nott in (y)',
      "unable to parse requirement: found 'nott', expected: in, notin, =, ==, !=, gt, lt",
    );
    rejects('a notin(', "unable to parse requirement: found '', expected: ',', ')' or identifier");
    rejects('a in (xyz abc)', "unable to parse requirement: found 'abc', expected: ',' or ')'");
    rejects('a in xyz', "unable to parse requirement: found 'xyz' expected: '('");
    rejects('a in (x,=)', "unable to parse requirement: found '=', expected: ',', or identifier");
    rejects('x=(a)', "unable to parse requirement: found '(', expected: identifier");
    rejects('!,x', "unable to parse requirement: found ',', expected: identifier");
  });

  test('invalid keys name the part that is wrong, with the nil field path apimachinery prints', () => {
    rejects(
      'app:monolith',
      `unable to parse requirement: <nil>: Invalid value: "app:monolith": name part ${NAME_RULE}`,
    );
    rejects(
      'a/b/c ?=? def',
      `unable to parse requirement: <nil>: Invalid value: "a/b/c": a valid label key ${NAME_RULE} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
    );
    rejects(
      'app.kubernetes_io/name=x',
      "unable to parse requirement: <nil>: Invalid value: \"app.kubernetes_io/name\": prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
    );
    rejects(
      '/',
      `unable to parse requirement: <nil>: Invalid value: "/": prefix part must be non-empty; name part must be non-empty; name part ${NAME_RULE}`,
    );
    const long = 'a'.repeat(64);
    rejects(
      long,
      `unable to parse requirement: <nil>: Invalid value: "${long}": name part must be no more than 63 bytes`,
    );
    rejects('-x', `unable to parse requirement: <nil>: Invalid value: "-x": name part ${NAME_RULE}`);
    rejects('x"y', `unable to parse requirement: <nil>: Invalid value: "x\\"y": name part ${NAME_RULE}`);
  });

  test('invalid values name the value index and the key', () => {
    rejects('x=a||y=b', `unable to parse requirement: values[0][x]: Invalid value: "a||y": ${VALUE_RULE}`);
    const long = 'a'.repeat(64);
    rejects(
      `x=${long}`,
      `unable to parse requirement: values[0][x]: Invalid value: "${long}": must be no more than 63 bytes`,
    );
    rejects('x in (b,-a)', `unable to parse requirement: values[0][x]: Invalid value: "-a": ${VALUE_RULE}`);
  });

  test('gt and lt need an integer, which must also be a valid label value (so no negatives)', () => {
    rejects(
      'x<a',
      `unable to parse requirement: values[0]: Invalid value: "a": for 'Gt', 'Lt' operators, the value must be an integer`,
    );
    rejects(
      'x>',
      `unable to parse requirement: values[0]: Invalid value: "": for 'Gt', 'Lt' operators, the value must be an integer`,
    );
    rejects(
      'x>1.5',
      `unable to parse requirement: values[0]: Invalid value: "1.5": for 'Gt', 'Lt' operators, the value must be an integer`,
    );
    rejects('x>-1', `unable to parse requirement: values[0][x]: Invalid value: "-1": ${VALUE_RULE}`);
    rejects(
      'x>a.',
      `unable to parse requirement: [values[0]: Invalid value: "a.": for 'Gt', 'Lt' operators, the value must be an integer, values[0][x]: Invalid value: "a.": ${VALUE_RULE}]`,
    );
    rejects(
      'x>9223372036854775808',
      `unable to parse requirement: values[0]: Invalid value: "9223372036854775808": for 'Gt', 'Lt' operators, the value must be an integer`,
    );
  });
});

describe('LabelSelector.matches', () => {
  function expectMatch(selector: string, labels: Labels | undefined, expected: boolean): void {
    assert.equal(
      parseLabelSelector(selector).matches(labels),
      expected,
      `${selector} on ${JSON.stringify(labels)}`,
    );
  }

  test("apimachinery's TestSelectorMatches table", () => {
    expectMatch('', { x: 'y' }, true);
    expectMatch('x=y', { x: 'y' }, true);
    expectMatch('x=y,z=w', { x: 'y', z: 'w' }, true);
    expectMatch('x!=y,z!=w', { x: 'z', z: 'a' }, true);
    expectMatch('notin=in', { notin: 'in' }, true);
    expectMatch('x', { x: 'z' }, true);
    expectMatch('!x', { y: 'z' }, true);
    expectMatch('x>1', { x: '2' }, true);
    expectMatch('x<1', { x: '0' }, true);
    expectMatch('x=z', {}, false);
    expectMatch('x=y', { x: 'z' }, false);
    expectMatch('x=y,z=w', { x: 'w', z: 'w' }, false);
    expectMatch('x!=y,z!=w', { x: 'z', z: 'w' }, false);
    expectMatch('x', { y: 'z' }, false);
    expectMatch('!x', { x: 'z' }, false);
    expectMatch('x>1', { x: '0' }, false);
    expectMatch('x<1', { x: '2' }, false);
    const labelset = { foo: 'bar', baz: 'blah' };
    expectMatch('foo=bar', labelset, true);
    expectMatch('baz=blah', labelset, true);
    expectMatch('foo=bar,baz=blah', labelset, true);
    expectMatch('foo=blah', labelset, false);
    expectMatch('baz=bar', labelset, false);
    expectMatch('foo=bar,foobar=bar,baz=blah', labelset, false);
  });

  test("set-based requirements (apimachinery's TestRequirementSelectorMatching)", () => {
    expectMatch('x in (foo),y notin (alpha)', { x: 'foo', y: 'baz' }, true);
    expectMatch('x in (foo),y in (alpha)', { x: 'foo', y: 'baz' }, false);
    expectMatch('x notin (),y', { y: '' }, true);
    expectMatch('!x,y', { y: '' }, true);
    expectMatch('x notin (),!y', { y: '' }, false);
    expectMatch('x in ()', { y: 'baz' }, false);
    expectMatch('z>1', { z: '2' }, true);
    expectMatch('z>1', { z: 'v2' }, false);
  });

  test('an object without the key matches !k, k!=v and k notin (…), and nothing else', () => {
    const none = { other: 'x' };
    expectMatch('!k', none, true);
    expectMatch('k!=v', none, true);
    expectMatch('k notin (a,b)', none, true);
    expectMatch('k', none, false);
    expectMatch('k=v', none, false);
    expectMatch('k==v', none, false);
    expectMatch('k in (a,b)', none, false);
    expectMatch('k=', none, false);
    expectMatch('k in ()', none, false);
    expectMatch('k>1', none, false);
    expectMatch('k<1', none, false);
  });

  test('an object with the key: in/notin compare the value against the set', () => {
    expectMatch('k in (a,b)', { k: 'b' }, true);
    expectMatch('k in (a,b)', { k: 'c' }, false);
    expectMatch('k notin (a,b)', { k: 'a' }, false);
    expectMatch('k notin (a,b)', { k: 'c' }, true);
    expectMatch('k=', { k: '' }, true);
    expectMatch('k in ()', { k: '' }, true);
    expectMatch('k in (,a)', { k: '' }, true);
    expectMatch('k!=', { k: '' }, false);
    expectMatch('k', { k: '' }, true);
  });

  test('gt and lt compare as 64-bit integers, not as text', () => {
    expectMatch('x>10', { x: '9' }, false);
    expectMatch('x>10', { x: '11' }, true);
    expectMatch('x<10', { x: '9' }, true);
    expectMatch('x>9', { x: '010' }, true);
    expectMatch('x>1', { x: '1' }, false);
    expectMatch('x<1', { x: '1' }, false);
    expectMatch('x>1', { x: '1.5' }, false);
    expectMatch('x>1', { x: '' }, false);
    expectMatch('x>1', { x: '+5' }, true);
    expectMatch('x<0', { x: '-5' }, true);
    expectMatch('x>9223372036854775806', { x: '9223372036854775807' }, true);
    expectMatch('x<9223372036854775807', { x: '9223372036854775806' }, true);
    expectMatch('x>9007199254740992', { x: '9007199254740993' }, true);
    expectMatch('x<9007199254740993', { x: '9007199254740992' }, true);
    expectMatch('x>1', { x: '9223372036854775808' }, false);
    expectMatch('x>9007199254740993', { x: '5' }, false);
    expectMatch('x<9007199254740993', { x: '5' }, true);
  });

  test('members every JS object inherits are not labels', () => {
    expectMatch('constructor', {}, false);
    expectMatch('!constructor', {}, true);
    expectMatch('toString!=x', {}, true);
    expectMatch('hasOwnProperty in (a,b)', {}, false);
    expectMatch('valueOf notin (a,b)', {}, true);
    expectMatch('constructor', JSON.parse('{"constructor":"yes"}'), true);
  });

  test('an object with no labels at all is matched like one with an empty map', () => {
    expectMatch('!x', undefined, true);
    expectMatch('x notin (a)', undefined, true);
    expectMatch('x', undefined, false);
    expectMatch('x=a', undefined, false);
  });

  test('the HPA selector of a Deployment selects its pods and no others', () => {
    const selector = parseLabelSelector(
      'app=web,pod-template-hash in (6f9c7b8d5d),tier notin (canary),!debug',
    );
    assert.equal(selector.matches({ app: 'web', 'pod-template-hash': '6f9c7b8d5d', tier: 'frontend' }), true);
    assert.equal(selector.matches({ app: 'web', 'pod-template-hash': '6f9c7b8d5d' }), true);
    assert.equal(selector.matches({ app: 'web', 'pod-template-hash': '6f9c7b8d5d', tier: 'canary' }), false);
    assert.equal(selector.matches({ app: 'web', 'pod-template-hash': '6f9c7b8d5d', debug: 'true' }), false);
    assert.equal(selector.matches({ app: 'web', 'pod-template-hash': 'other' }), false);
    assert.equal(selector.matches({ app: 'api', 'pod-template-hash': '6f9c7b8d5d' }), false);
  });

  test('parsing the canonical string gives a selector that selects the same objects', () => {
    const text = 'b in (x,y), !c ,a=1,d notin (z), e>3';
    const first = parseLabelSelector(text);
    const again = parseLabelSelector(String(first));
    assert.equal(String(again), String(first));
    const objects: Labels[] = [
      {},
      { a: '1', b: 'x', e: '4' },
      { a: '1', b: 'y', e: '4', d: 'z' },
      { a: '1', b: 'x', e: '3' },
      { a: '1', b: 'x', e: '4', c: '' },
    ];
    for (const labels of objects)
      assert.equal(again.matches(labels), first.matches(labels), JSON.stringify(labels));
    assert.deepEqual(
      objects.map((labels) => first.matches(labels)),
      [false, true, false, false, false],
    );
  });
});
