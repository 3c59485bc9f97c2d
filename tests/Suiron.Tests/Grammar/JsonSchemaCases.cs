namespace Suiron.Tests.Grammar;

/// <summary>Schemas with documents that must match (valid) and must not (invalid), each checked by hand against the schema.</summary>
internal static class JsonSchemaCases
{
    public sealed record Case(string Name, string Schema, string[] Valid, string[] Invalid);

    public static readonly Case[] All =
    [
        new("nested-optional", """
            {"type":"object","properties":{
               "name":{"type":"string","minLength":1,"maxLength":12},
               "age":{"type":"integer","minimum":0,"maximum":150},
               "email":{"type":"string","format":"email"},
               "address":{"type":"object","properties":{
                   "street":{"type":"string"},
                   "zip":{"type":"string","pattern":"^[0-9]{5}$"}},
                 "required":["zip"]}},
             "required":["name","age"],"additionalProperties":false}
            """,
            ["""{"name":"Ann","age":31}""", """{"name": "Bob", "age": 150, "email": "bob@example.com"}""",
             """{"name":"C","age":0,"address":{"zip":"01234"}}""", """{"name":"D","age":7,"email":"d.e@x.org","address":{"zip":"99999","street":"Main"}}""",
             "{\n  \"name\": \"E\",\n  \"age\": 1\n}"],
            ["""{"name":"Ann"}""", """{"name":"","age":3}""", """{"name":"Ann","age":151}""",
             """{"name":"Ann","age":-1}""", """{"name":"Ann","age":3,"address":{"zip":"1234"}}""", """{"name":"Ann","age":3,"extra":1}""",
             """{"name":"Ann","age":3,"address":{"street":"x"}}"""]),
        new("array-min-max", """{"type":"array","items":{"type":"integer","minimum":-5,"maximum":5},"minItems":2,"maxItems":4}""",
            ["[1,2]", "[-5, 5, 0, 3]", "[ 0, 0, 0 ]"],
            ["[]", "[1]", "[1,2,3,4,5]", "[6,1]", "[1,-6]", "[1,2,]", "[1.5,2]"]),
        new("enum-const", """
            {"type":"object","properties":{"color":{"enum":["red","green","blue",3,null]},"kind":{"const":"fixed"},"flag":{"const":true}},
             "required":["color","kind"]}
            """,
            ["""{"color":"red","kind":"fixed"}""", """{"color":3,"kind":"fixed","flag":true}""", """{"color":null,"kind":"fixed"}"""],
            ["""{"color":"pink","kind":"fixed"}""", """{"color":"red","kind":"other"}""", """{"color":"red","kind":"fixed","flag":false}""", """{"color":4,"kind":"fixed"}"""]),
        new("ref-defs-recursive", """
            {"$defs":{"node":{"type":"object","properties":{
                "value":{"type":"integer"},
                "children":{"type":"array","items":{"$ref":"#/$defs/node"},"maxItems":2}},
              "required":["value"]}},
             "$ref":"#/$defs/node"}
            """,
            ["""{"value":1}""", """{"value":-2,"children":[{"value":3},{"value":4,"children":[]}]}"""],
            ["""{"children":[]}""", """{"value":1,"children":[{"value":1},{"value":2},{"value":3}]}""", """{"value":1,"children":[{}]}"""]),
        new("anyof-and-type-array", """
            {"type":"object","properties":{
               "a":{"anyOf":[{"type":"string","maxLength":5},{"type":"integer","minimum":10,"maximum":99},{"type":"null"}]},
               "b":{"type":["string","null"]},
               "c":{"oneOf":[{"type":"boolean"},{"type":"array","items":{"type":"number"}}]}},
             "required":["a","b","c"]}
            """,
            ["""{"a":"hi","b":null,"c":true}""", """{"a":42,"b":"x","c":[1.5,-2e3]}""", """{"a":null,"b":"","c":[]}"""],
            ["""{"a":"toolong","b":null,"c":true}""", """{"a":9,"b":null,"c":true}""", """{"a":100,"b":null,"c":true}""", """{"a":"x","b":1,"c":true}""", """{"a":"x","b":null,"c":"no"}"""]),
        new("string-formats", """
            {"type":"object","properties":{
               "id":{"type":"string","format":"uuid"},
               "day":{"type":"string","format":"date"},
               "at":{"type":"string","format":"date-time"},
               "t":{"type":"string","format":"time"}},
             "required":["id","day","at","t"]}
            """,
            ["""{"id":"123e4567-e89b-12d3-a456-426614174000","day":"2024-02-28","at":"2023-12-31T23:59:59Z","t":"08:30:00+02:00"}""",
             """{"id":"ABCDEF01-2345-6789-abcd-ef0123456789","day":"0001-01-01","at":"1999-06-30T00:00:00.123-05:30","t":"00:00:00.000Z"}"""],
            ["""{"id":"123e4567e89b12d3a456426614174000","day":"2024-02-28","at":"2023-12-31T23:59:59Z","t":"08:30:00Z"}""",
             """{"id":"123e4567-e89b-12d3-a456-426614174000","day":"2024-02-30","at":"2023-12-31T23:59:59Z","t":"08:30:00Z"}""",
             """{"id":"123e4567-e89b-12d3-a456-426614174000","day":"2024-13-01","at":"2023-12-31T23:59:59Z","t":"08:30:00Z"}""",
             """{"id":"123e4567-e89b-12d3-a456-426614174000","day":"2024-01-01","at":"2023-12-31T23:59:59Z","t":"24:00:00Z"}"""]),
        new("integer-bounds", """
            {"type":"object","properties":{
               "a":{"type":"integer","minimum":-1000,"maximum":-17},
               "b":{"type":"integer","exclusiveMinimum":0,"exclusiveMaximum":1000},
               "c":{"type":"integer","minimum":12345},
               "d":{"type":"integer","maximum":-3},
               "e":{"type":"integer","minimum":-7,"maximum":250}},
             "required":["a","b","c","d","e"]}
            """,
            ["""{"a":-17,"b":1,"c":12345,"d":-3,"e":-7}""", """{"a":-1000,"b":999,"c":99999999,"d":-123456,"e":250}""", """{"a":-500,"b":500,"c":23456,"d":-4,"e":0}"""],
            ["""{"a":-16,"b":1,"c":12345,"d":-3,"e":0}""", """{"a":-1001,"b":1,"c":12345,"d":-3,"e":0}""", """{"a":-17,"b":0,"c":12345,"d":-3,"e":0}""",
             """{"a":-17,"b":1000,"c":12345,"d":-3,"e":0}""", """{"a":-17,"b":1,"c":12344,"d":-3,"e":0}""", """{"a":-17,"b":1,"c":12345,"d":-2,"e":0}""",
             """{"a":-17,"b":1,"c":12345,"d":-3,"e":251}""", """{"a":-17,"b":1,"c":12345,"d":-3,"e":-8}""", """{"a":-17,"b":01,"c":12345,"d":-3,"e":0}"""]),
        new("allof-definitions", """
            {"$schema":"http://json-schema.org/draft-07/schema#","definitions":{"base":{"type":"object","properties":{"id":{"type":"integer","minimum":1}},"required":["id"]}},
             "allOf":[{"$ref":"#/definitions/base"},
                      {"type":"object","properties":{"tags":{"type":"array","items":{"type":"string","minLength":1,"maxLength":8},"maxItems":3}},"required":["tags"]}]}
            """,
            ["""{"id":1,"tags":[]}""", """{"id":77,"tags":["a","bcdefgh"]}"""],
            ["""{"tags":[]}""", """{"id":1}""", """{"id":0,"tags":[]}""", """{"id":1,"tags":[""]}""", """{"id":1,"tags":["a","b","c","d"]}"""]),
        new("additional-properties", """
            {"type":"object","properties":{"x":{"type":"number"},"y":{"type":"string"}},"required":["x"],"additionalProperties":{"type":"boolean"}}
            """,
            ["""{"x":1}""", """{"x":1.5,"y":"s","z":true,"w":false}""", """{"x":0,"other":true}""", """{"x":0,"xx":true}"""],
            ["""{"x":1,"z":3}""", """{"x":1,"y":true}""", """{"y":"s"}"""]),
        new("prefix-items", """{"type":"array","prefixItems":[{"type":"string","maxLength":3},{"type":"number"},{"enum":["on","off"]}]}""",
            ["""["abc",1,"on"]""", """[ "", -0.5e-3, "off" ]"""],
            ["""["abcd",1,"on"]""", """["a","1","on"]""", """["a",1,"up"]"""]),
        new("pattern", """{"type":"object","properties":{"code":{"type":"string","pattern":"^[A-Z]{2}-\\d{3,4}(x|yz)?$"},"free":{"type":"string","pattern":"^ab+c"}},"required":["code","free"]}""",
            ["""{"code":"AB-123","free":"abc"}""", """{"code":"ZZ-0000yz","free":"abbbcyy"}"""],
            ["""{"code":"A-123","free":"abc"}""", """{"code":"AB-12","free":"abc"}""", """{"code":"AB-123y","free":"abc"}""", """{"code":"AB-123","free":"ac"}""", """{"code":"AB-123","free":"xabc"}"""]),
        new("integer-multiple-of", """
            {"type":"object","properties":{"n":{"type":"integer","multipleOf":7},"m":{"type":"integer","minimum":-20,"maximum":30,"multipleOf":5}},"required":["n","m"]}
            """,
            ["""{"n":0,"m":-20}""", """{"n":-21,"m":30}""", """{"n":700,"m":0}""", """{"n":1000000000000001,"m":15}"""],
            ["""{"n":8,"m":5}""", """{"n":-22,"m":5}""", """{"n":7,"m":35}""", """{"n":7,"m":-25}""", """{"n":7,"m":12}""", """{"n":07,"m":5}"""]),
        new("number-bounds", """
            {"type":"object","properties":{"p":{"type":"number","minimum":0,"maximum":1},"t":{"type":"number","exclusiveMinimum":-2.5,"exclusiveMaximum":40}},"required":["p","t"]}
            """,
            ["""{"p":0.5,"t":-1.75}""", """{"p":1,"t":39.99}""", """{"p":0,"t":-2}""", """{"p":0.0001,"t":0}"""],
            ["""{"p":1.5,"t":0}""", """{"p":-0.1,"t":0}""", """{"p":0.5,"t":40}""", """{"p":0.5,"t":-2.5}""", """{"p":0.5,"t":-2.75}""", """{"p":2,"t":1}"""]),
        new("json-object", """{"type":"json_object"}""",
            ["{}", """{"a":[1,{"b":null}],"c":"d"}"""],
            ["[]", "1", "\"s\"", "{\"a\":}"]),
    ];
}
