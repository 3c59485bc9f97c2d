using Suiron.Chat;
using Xunit;

namespace Suiron.Tests.Chat;

/// <summary>
/// Interpreter features one at a time: whitespace control, loops, scoping, macros, filters, tests,
/// Python value printing and arithmetic, undefined semantics, and the errors Jinja2 raises.
/// Expected outputs are what Python Jinja2 3.1.6 prints under Hugging Face's setup.
/// </summary>
public sealed class JinjaFeatureTests
{
    private static string Render(string source)
    {
        var context = new TemplateContext
        {
            Now = new DateTime(2026, 1, 15, 9, 30, 0),
        };
        context.Set("d", new Dictionary<string, object?> { ["b"] = 2, ["a"] = 1, ["c"] = new List<object?> { 1, 2 } })
            .Set("l", new[] { 3, 1, 2 })
            .Set("s", "Hello World")
            .Set("n", null)
            .Set("msgs", new[]
            {
                new Dictionary<string, object?> { ["role"] = "user", ["content"] = "hi" },
                new Dictionary<string, object?> { ["role"] = "assistant", ["content"] = "yo" },
            });
        return new ChatTemplate(source).Render(context);
    }

    public static TheoryData<string, string> Renderings() => new()
    {
        {"a  {%- if true %} b {% endif -%}  c", "a b c"},
        {"line1\n    {% if true %}\n    inside\n    {% endif %}\nline2", "line1\n    inside\nline2"},
        {"x {% if true %}y{% endif %}\nz", "x yz"},
        {"  {{ 1 }}  {# comment #}\n  {#- c -#}  after", "  1  after"},
        {"{% raw %}{{ not evaluated }}{% endraw %}", "{{ not evaluated }}"},
        {"{%+ if true %}kept{% endif +%}\nnext", "kept\nnext"},
        {"{% for x in l %}{{ loop.index }}/{{ loop.index0 }}/{{ loop.revindex }}/{{ loop.revindex0 }}/{{ loop.first }}/{{ loop.last }}/{{ loop.length }};{% endfor %}", "1/0/3/2/True/False/3;2/1/2/1/False/False/3;3/2/1/0/False/True/3;"},
        {"{% for x in l %}{{ loop.previtem }}<{{ x }}>{{ loop.nextitem }}|{{ loop.cycle('a', 'b') }} {% endfor %}", "<3>1|a 3<1>2|b 1<2>|a "},
        {"{% for x in [] %}no{% else %}empty{% endfor %}", "empty"},
        {"{% for x in l if x > 1 %}{{ x }}:{{ loop.length }} {% endfor %}", "3:2 2:2 "},
        {"{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}", "b=2;a=1;c=[1, 2];"},
        {"{% for k, v in d|dictsort %}{{ k }}={{ v }};{% endfor %}", "a=1;b=2;c=[1, 2];"},
        {"{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %}", "0134"},
        {"{% set ns = namespace(count=0, items=[]) %}{% for x in l %}{% set ns.count = ns.count + x %}{% set ns.items = ns.items + [x * 2] %}{% endfor %}{{ ns.count }} {{ ns.items }}", "6 [6, 2, 4]"},
        {"{% set x = 1 %}{% for i in range(2) %}{% set x = 5 %}{% endfor %}{{ x }}", "1"},
        {"{% set block %}  inner {{ 1 + 1 }}  {% endset %}[{{ block }}]", "[  inner 2  ]"},
        {"{% set block | upper %}shout{% endset %}{{ block }}", "SHOUT"},
        {"{% macro greet(name, greeting='Hello', punct='!') %}{{ greeting }}, {{ name }}{{ punct }}{% endmacro %}{{ greet('Ann') }} {{ greet('Bob', punct='?') }} {{ greet('Cy', 'Hi') }}", "Hello, Ann! Hello, Bob? Hi, Cy!"},
        {"{% macro m(a) %}{{ a }}|{{ varargs }}|{{ kwargs }}{% endmacro %}{{ m(1, 2, 3, x=4) }}", "1|(2, 3)|{'x': 4}"},
        {"{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}{% call wrap('b') %}bold {{ 1 }}{% endcall %}", "<b>bold 1</b>"},
        {"{% macro row(x) %}{{ caller(x * 2) }}{% endmacro %}{% call(v) row(21) %}v={{ v }}{% endcall %}", "v=42"},
        {"{% filter upper %}quiet {{ 'words' }}{% endfilter %}", "QUIET WORDS"},
        {"{{ none is none }} {{ 1 is number }} {{ 1.5 is float }} {{ 1 is integer }} {{ true is integer }} {{ 'a' is string }} {{ d is mapping }} {{ l is iterable }} {{ d is sequence }} {{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ 2 is in l }} {{ x is defined }} {{ x is undefined }} {{ true is boolean }} {{ false is false }} {{ 2 is eq 2 }} {{ 1 is lt 2 }} {{ 'ab' is lower }}", "True True True True False True True True True True True True True False True True True True True True"},
        {"{{ 5 / 2 }} {{ 4 / 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ 1.5 + 1 }} {{ 0.1 + 0.2 }} {{ 1e16 }} {{ 1e15 }} {{ 1e-5 }} {{ 123456789.123 }} {{ -0.0 }} {{ 3.0 * 2 }}", "2.5 2.0 3 -4 1 2 1024 0.5 2.5 0.30000000000000004 1e+16 1000000000000000.0 1e-05 123456789.123 -0.0 6.0"},
        {"{{ 1 < 2 < 3 }} {{ 1 < 3 < 2 }} {{ 'a' in 'cat' }} {{ 4 not in l }} {{ 'b' in d }} {{ not true }} {{ true and 'x' }} {{ 0 or 'y' }} {{ none or [] }}", "True False True True True False x y []"},
        {"{{ [1, 'a', none, true, 1.0, {'k': 'v'}, ('t',), (1, 2)] }}", "[1, 'a', None, True, 1.0, {'k': 'v'}, ('t',), (1, 2)]"},
        {"{{ d }} {{ \"it's\" }} {{ [\"it's\", 'say \"hi\"', 'both \\' \"', \"tab\\there\", 'nl\\nx'] }}", "{'b': 2, 'a': 1, 'c': [1, 2]} it's [\"it's\", 'say \"hi\"', 'both \\' \"', 'tab\\there', 'nl\\nx']"},
        {"{{ 'abc'[::-1] }} {{ l[1:] }} {{ l[-1] }} {{ l[:-1] }} {{ 'hello'[1:4] }} {{ l[::2] }} {{ s[0] }} {{ s[-5:] }}", "cba [1, 2] 2 [3, 1] ell [3, 2] H World"},
        {"{{ s.upper() }} {{ s.lower() }} {{ s.split() }} {{ s.split('o') }} {{ s.split('o', 1) }} {{ s.rsplit('o', 1) }} {{ '  x  '.strip() }}|{{ '  x  '.lstrip() }}|{{ '  x  '.rstrip() }}| {{ 'xxhixx'.strip('x') }} {{ s.startswith('He') }} {{ s.endswith(('x', 'ld')) }} {{ s.replace('l', 'L') }} {{ s.replace('l', 'L', 2) }} {{ s.find('o') }} {{ s.rfind('o') }} {{ s.count('l') }} {{ 'hello world'.title() }} {{ 'hELLO'.capitalize() }} {{ 'a\\nb\\r\\nc'.splitlines() }} {{ ', '.join(['a', 'b']) }} {{ '{} and {name}'.format(1, name='x') }} {{ 'x'.center(5) }}| {{ '7'.zfill(3) }}", "HELLO WORLD hello world ['Hello', 'World'] ['Hell', ' W', 'rld'] ['Hell', ' World'] ['Hello W', 'rld'] x|x  |  x| hi True True HeLLo WorLd HeLLo World 4 7 3 Hello World Hello ['a', 'b', 'c'] a, b 1 and x   x  | 007"},
        {"{{ d.get('a') }} {{ d.get('zz') }} {{ d.get('zz', 'dflt') }} {{ d.keys() | list }} {{ d.values() | list }} {{ d['b'] }} {{ d.b }} {{ d.c[1] }}", "1 None dflt ['b', 'a', 'c'] [2, 1, [1, 2]] 2 2 2"},
        {"{{ '  pad  ' | trim }}|{{ 'abc' | upper }} {{ 'ABC' | lower }} {{ 'hello world-foo' | title }} {{ 'hELLO wORLD' | capitalize }} {{ l | length }} {{ s | count }} {{ l | first }} {{ l | last }} {{ l | join('-') }} {{ none | default('dflt') }} {{ x | default('dflt') }} {{ '' | default('dflt', true) }} {{ '' | d('d2', boolean=true) }}", "pad|ABC abc Hello World-Foo Hello world 3 11 3 2 3-1-2 None dflt dflt d2"},
        {"{{ msgs | map(attribute='role') | list }} {{ msgs | map(attribute='missing', default='?') | join(',') }} {{ l | map('string') | join }} {{ l | select('odd') | list }} {{ l | reject('odd') | list }} {{ msgs | selectattr('role', 'equalto', 'user') | list | length }} {{ msgs | rejectattr('role', 'eq', 'user') | map(attribute='content') | first }}", "['user', 'assistant'] ?,? 312 [3, 1] [2] 1 yo"},
        {"{{ l | sort }} {{ l | sort(reverse=true) }} {{ ['b', 'A', 'c'] | sort }} {{ ['b', 'A', 'c'] | sort(case_sensitive=true) }} {{ msgs | sort(attribute='content') | map(attribute='content') | list }} {{ [1, 2, 1, 3] | unique | list }} {{ l | reverse | list }} {{ 'abc' | reverse }} {{ l | min }} {{ l | max }} {{ l | sum }} {{ [[1], [2]] | sum(start=[]) }}", "[1, 2, 3] [3, 2, 1] ['A', 'b', 'c'] ['A', 'b', 'c'] ['hi', 'yo'] [1, 2, 3] [2, 1, 3] cba 1 3 6 [1, 2]"},
        {"{{ d | tojson }} {{ d | tojson(indent=2) }} {{ 'ü \"q\" \\n' | tojson }} {{ 'ü' | tojson(ensure_ascii=true) }} {{ [1.0, 2.5, none, true] | tojson }} {{ d | tojson(sort_keys=true) }} {{ {'a': [1, {'b': []}], 'e': {}} | tojson(indent=4) }} {{ d | tojson(separators=(',', ':')) }}", "{\"b\": 2, \"a\": 1, \"c\": [1, 2]} {\n  \"b\": 2,\n  \"a\": 1,\n  \"c\": [\n    1,\n    2\n  ]\n} \"ü \\\"q\\\" \\n\" \"\\u00fc\" [1.0, 2.5, null, true] {\"a\": 1, \"b\": 2, \"c\": [1, 2]} {\n    \"a\": [\n        1,\n        {\n            \"b\": []\n        }\n    ],\n    \"e\": {}\n} {\"b\":2,\"a\":1,\"c\":[1,2]}"},
        {"{{ '42' | int }} {{ '4.7' | int }} {{ 'x' | int }} {{ 'x' | int(7) }} {{ 3.9 | int }} {{ '2.5' | float }} {{ 3 | float }} {{ -3 | abs }} {{ 2.567 | round(2) }} {{ 2.5 | round }} {{ 3 | string }} {{ [1] | string }} {{ 'a b  c' | wordcount }} {{ '<b>x</b> &amp;' | striptags }} {{ '%s-%d' | format('a', 3) }} {{ 'x' | center(7) }}|", "42 4 0 7 3 2.5 3.0 3 2.57 2.0 3 [1] 3 x & a-3    x   |"},
        {"{{ 'line1\\nline2\\n\\nline4' | indent(2) }}\n{{ 'line1\\nline2' | indent(2, first=true) }}\n{{ 'a\\n\\nb' | indent('> ', blank=true) }}", "line1\n  line2\n\n  line4\n  line1\n  line2\na\n> \n> b"},
        {"{{ d | items | list }} {{ d | dictsort(reverse=true) }} {{ d | dictsort(by='value') if false else 'skip' }} {{ l | batch(2) | list }} {{ l | slice(2) | list }} {{ 'a<b>&\"\\'' | e }} {{ '<x>' | safe }}", "[('b', 2), ('a', 1), ('c', [1, 2])] [('c', [1, 2]), ('b', 2), ('a', 1)] skip [[3, 1], [2]] [[3, 1], [2]] a&lt;b&gt;&amp;&#34;&#39; <x>"},
        {"{{ '%s is %d years' % ('Bob', 42) }} {{ '%5.2f|%-4s|%03d' % (3.14159, 'ab', 7) }} {{ '%(a)s+%(b)s' % {'a': 1, 'b': 2} }} {{ '100%%' % () }}", "Bob is 42 years  3.14|ab  |007 1+2 100%"},
        {"{{ 'a' ~ 1 ~ none ~ x ~ [1] }} {{ 'a' + 'b' }} {{ [1] + [2] }} {{ (1,) + (2,) }} {{ 'ab' * 3 }} {{ [0] * 3 }} {{ -(3) }} {{ +4 }} {{ 1 if false }}|{{ 'y' if true else 'n' }}", "a1None[1] ab [1, 2] (1, 2) ababab [0, 0, 0] -3 4 |y"},
        {"{{ \"adjacent\" \"strings\" }} {{ 'esc\\x41\\u3042\\101\\\\n' }} {{ 0x1F }} {{ 0o17 }} {{ 0b101 }} {{ 1_000 }} {{ 1.5e3 }} {{ True }} {{ None }}", "adjacentstrings escAあA\\n 31 15 5 1000 1500.0 True None"},
        {"{% set a, b = 1, 2 %}{{ a }}{{ b }} {% set t = (1, 2), 3 %}{{ t }}", "12 ((1, 2), 3)"},
        {"{{ strftime_now('%Y-%m-%d %H:%M %B %d, %Y %b %a %A %-d %j %p %I') }}", "2026-01-15 09:30 January 15, 2026 Jan Thu Thursday 15 015 AM 09"},
        {"{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}{{ a }}", "3"},
        {"{% for row in [[1, [2, 3]], [4, []]] recursive %}{{ loop.depth }}:{{ row[0] if row is sequence and row[0] is number else row }}{% if row is sequence and row|length > 1 and row[1] is sequence %}({{ loop(row[1]) }}){% endif %};{% endfor %}", "1:1(2:2;2:3;);1:4();"},
        {"{{ loop }}|{% for a in [1] %}{% for b in [2] %}{{ loop.depth }}{{ loop.index }}{% endfor %}{% endfor %}", "|11"},
        {"{{ [3, 1] | first }} {{ {'k': 1} | first }} {{ [] | first }}|{{ 'abc' | list }} {{ (1, 2) | list }} {{ d | list }} {{ d | length }}", "3 k |['a', 'b', 'c'] [1, 2] ['b', 'a', 'c'] 3"},
        {"{{ 'ABC'.isupper() }} {{ 'abc'.isalpha() }} {{ '123'.isdigit() }} {{ ' '.isspace() }} {{ 'a-b'.partition('-') }} {{ 'x'.ljust(3, '*') }} {{ 'x'.rjust(3) }}", "True True True True ('a', '-', 'b') x**   x"},
        {"{{ l.index(1) }} {{ l.count(3) }} {{ (1, 2, 2).count(2) }} {{ 'abc'.index('c') }}", "1 1 2 2"},
        {"{{ {'a': 1}.items() }} {{ {'a': 1}.keys() }} {{ dict(a=1, b=2) }} {{ namespace(a=1) }} {{ 1 == 1.0 }} {{ true == 1 }} {{ [1, 2] == [1, 2] }} {{ {'a': 1} == {'a': 1} }} {{ (1,) == [1] }}", "dict_items([('a', 1)]) dict_keys(['a']) {'a': 1, 'b': 2} <Namespace {'a': 1}> True True True True False"},
        {"{{ 'abc' < 'abd' }} {{ [1, 2] < [1, 3] }} {{ 2 >= 2.0 }} {{ 10 // 3.0 }} {{ -7.5 // 2 }} {{ 7.5 % -2 }} {{ 2 ** 0.5 }} {{ 10 / 4 * 2 }} {{ 1 + 2 * 3 - 4 / 2 }} {{ 2 ** 3 ** 2 }}", "True True True 3.0 -4.0 -0.5 1.4142135623730951 5.0 5.0 64"},
        { "{{ 'あいう'[1] }} {{ 'あいう' | length }} {{ 'あいう'[::-1] }} {{ 'あいう' | list }} {{ '日本' | tojson }} {{ '😀x' | length }} {{ '😀x'[0] }}", "い 3 ういあ ['あ', 'い', 'う'] \"日本\" 2 😀" },
        { "{% for x in [1, 1, 2, 3, 3] %}{% if loop.changed(x) %}{{ x }}{% endif %}{% endfor %}", "123" },
        { "{{ none | default('d') }} {{ false | default('d') }} {{ none is sameas none }} {{ 1 is sameas 1 }} {{ [] is sameas [] }}", "None False True True False" },
        { "{% set ns = namespace({'a': 1}, b=2) %}{{ ns.a }}{{ ns.b }}", "12" },
        { "{% for i in range(3) %}{% set x %}{{ i }}!{% endset %}{{ x }}{% endfor %}", "0!1!2!" },
        { "{{ 'x' ~ loop }}|{{ caller is defined }}|{{ varargs is defined }}", "x|False|False" },
        { "{% for a, b in [[1, 2], [3, 4]] %}{{ a + b }}{% endfor %} {% for a, (b, c) in [[1, [2, 3]]] %}{{ a }}{{ b }}{{ c }}{% endfor %}", "37 123" },
        { "{{ msgs | selectattr('content') | list | length }} {{ msgs | map(attribute='role') | map('upper') | join }} {{ msgs[0] | items | list }} {{ msgs | groupby('role') | map(attribute='grouper') | list }}", "2 USERASSISTANT [('role', 'user'), ('content', 'hi')] ['assistant', 'user']" },
        { "{{ \"%.3f\" | format(1) }} {{ '{0:.1%}'.format(0.25) }} {{ '%x' % 255 }} {{ '%5s|%-5s|' % ('a', 'b') }} {{ '%r' % 'q' }}", "1.000 25.0% ff     a|b    | 'q'" },
        { "{{ 'hello'.replace('', '-') }} {{ 'a,b,,c'.split(',') }} {{ ' a  b '.split(' ') }} {{ 'aXbXc'.rsplit('X', 1) }} {{ '\\tx\\n'.strip() }}", "-h-e-l-l-o- ['a', 'b', '', 'c'] ['', 'a', '', 'b', ''] ['aXb', 'c'] x" },
        { "{{ [3, 1, 2] | sort | first }} {{ [] | max }}|{{ ['b', 'a'] | max }} {{ [{'n': 2}, {'n': 1}] | min(attribute='n') }}", "1 |b {'n': 1}" },
        { "{{ 10 | string | length }} {{ 3.0 | int }} {{ '0x1A' | int(base=16) }} {{ '  12  ' | int }} {{ '1e3' | float }} {{ 'nan' | float }}", "2 3 26 12 1000.0 nan" },
        { "{{ d.items() | list | first | first }} {{ d | dictsort | first }} {{ d.a is number }}", "b ('a', 1) True" },
        { "{% if msgs[0].content is not string %}no{% else %}yes{% endif %} {{ msgs[5] is defined }} {{ msgs[-1]['role'] }}", "yes False assistant" },
        { "{{ true + 1 }} {{ true * 3 }} {{ -true }} {{ 5 // true }} {{ 2 * 3.5 }} {{ 7 % 2.5 }} {{ 1e300 * 1e10 }} {{ 0.1 * 3 }}", "2 3 -1 5 7.0 2.0 inf 0.30000000000000004" },
        { "{{ range(5) }} {{ range(1, 10, 3) | list }} {{ range(5)[-1] }} {{ range(3) | length }} {{ 2 in range(3) }}", "range(0, 5) [1, 4, 7] 4 3 True" },
        { "{{ ['a', 'b'] | join(', ') | upper }} {{ \"x\" | indent }} {{ 'a\\nb' | indent(first=true) }}", "A, B x     a\n    b" },
        { "{{ (msgs | last).content }} {{ msgs | length > 1 and msgs[1].role == 'assistant' }}", "yo True" },
        { "{{ d | tojson(indent=0) }}\n", "{\n\"b\": 2,\n\"a\": 1,\n\"c\": [\n1,\n2\n]\n}" },
    };

    /// <summary>trim_blocks, lstrip_blocks, "-" and "+" markers, comments, raw blocks, newline normalisation.</summary>
    public static TheoryData<string, string> WhitespaceControl() => new()
    {
        { "a\n{% if true %}\nb\n{% endif %}\nc", "a\nb\nc" },
        { "\t{% if true %}\ttabbed\n\t{% endif %}\nend", "\ttabbed\nend" },
        { "text {% if true %}\nsame line\n{% endif %}", "text same line\n" },
        { "    {{ 'var not lstripped' }}\n    {% set x = 1 %}\n    after", "    var not lstripped\n    after" },
        { "{% for i in [1, 2] %}\n  - {{ i }}\n{% endfor %}", "  - 1\n  - 2\n" },
        { "{%- for i in [1, 2] -%}\n  - {{ i }}\n{%- endfor -%}", "- 1- 2" },
        { "x   {{- 'tight' -}}   y", "xtighty" },
        { "{# comment #}\nline\n  {# indented comment #}\nline2", "line\nline2" },
        { "a{#- strip -#}   b", "ab" },
        { "{% if true -%}\n\n\n  deep\n{%- endif %}", "deep" },
        { "{{ 'a' }}\n{{ 'b' }}\n", "a\nb" },
        { "trailing newline kept?", "trailing newline kept?" },
        { "line1\n{% if true %}\nline2\n{% endif %}\nline3\n", "line1\nline2\nline3" },
        { "{% raw -%}\n   raw {{ x }}\n{%- endraw %}", "raw {{ x }}" },
        { "{%- set x -%}\n  captured\n{%- endset -%}\n[{{ x }}]", "[captured]" },
        { "{% macro m() -%}\n  body\n{%- endmacro %}\n[{{ m() }}]", "[body]" },
        { "{% for m in msgs %}{{ m.role }}{% if not loop.last %}, {% endif %}{% endfor %}", "user, assistant" },
        { "{{ \"multi\nline string\" }}", "multi\nline string" },
        { "{%- if true %}\n  {{- \"x\" }}\n{% endif %}\ny", "x\ny" },
        { "<s>{% for message in msgs %}\n{% if message.role == 'user' %}[INST] {{ message.content }} [/INST]{% else %} {{ message.content }}</s>{% endif %}\n{% endfor %}\n", "<s>[INST] hi [/INST] yo</s>" },
        { "line1\r\n{% if true %}\r\nline2\r\n{% endif %}\r\nline3\r\n", "line1\nline2\nline3" },
        { "cr\r{{ 1 }}\rend", "cr\n1\nend" },
    };

    public static TheoryData<string, string> Failures() => new()
    {
        {"{{ x }}|{{ x.y is defined }}|{{ d.zz }}|{{ d.zz is defined }}|{{ x | length }}|{{ x | list }}|{{ (x or 'fallback') }}|{% for i in x %}never{% endfor %}|{{ n.attr is defined }}", "UndefinedError: 'x' is undefined"},
        {"{{ x.y }}", "UndefinedError: 'x' is undefined"},
        {"{{ d.zz.y }}", "UndefinedError: 'dict object' has no attribute 'zz'"},
        {"{{ l[10].x }}", "UndefinedError: list object has no element 10"},
        {"{{ 'a' + 1 }}", "TypeError: can only concatenate str (not \"int\") to str"},
        {"{{ 1 + 'a' }}", "TypeError: unsupported operand type(s) for +: 'int' and 'str'"},
        {"{{ [1] + 'a' }}", "TypeError: can only concatenate list (not \"str\") to list"},
        {"{{ 1 < 'a' }}", "TypeError: '<' not supported between instances of 'int' and 'str'"},
        {"{{ l.append(4) }}", "SecurityError: access to attribute 'append' of 'list' object is unsafe."},
        {"{{ d.update({}) }}", "SecurityError: access to attribute 'update' of 'dict' object is unsafe."},
        {"{{ raise_exception('custom failure') }}", "TemplateError: custom failure"},
        {"{{ range(200000) | length }}", "OverflowError: Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000)."},
        {"{{ 1 / 0 }}", "ZeroDivisionError: division by zero"},
        {"{{ l | map(attribute='x') | tojson }}", "TypeError: Object of type generator is not JSON serializable"},
        {"{{ undefined_func() }}", "UndefinedError: 'undefined_func' is undefined"},
        {"{% macro m(a) %}{{ a }}{% endmacro %}{{ m(1, 2) }}", "TypeError: macro 'm' takes not more than 1 argument(s)"},
        {"{% macro m(a) %}{{ a }}{% endmacro %}{{ m(b=2) }}", "TypeError: macro 'm' takes no keyword argument 'b'"},
        {"{{ '{:>5}|{:<5}|{:^5}|{:05d}|{:.2f}|{:,}|{!r}|{0}'.format('a', 'b', 'c', 42, 3.14159, 1234567, 'q') }}\n", "ValueError: cannot switch from manual field specification to automatic field numbering"},
    };

    [Theory]
    [MemberData(nameof(WhitespaceControl))]
    public void Controls_whitespace_as_Jinja2_does(string template, string expected) => Assert.Equal(expected, Render(template));

    [Theory]
    [MemberData(nameof(Renderings))]
    public void Renders_as_Jinja2_does(string template, string expected) => Assert.Equal(expected, Render(template));

    [Theory]
    [MemberData(nameof(Failures))]
    public void Fails_as_Jinja2_does(string template, string expected)
    {
        var error = Assert.Throws<TemplateException>(() => Render(template));
        Assert.Equal(expected, $"{error.Kind}: {error.Reason}");
    }
}
