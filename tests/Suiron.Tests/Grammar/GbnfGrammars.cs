namespace Suiron.Tests.Grammar;

/// <summary>Grammars written in the style of llama.cpp's grammars/ examples, for the parser and matcher tests.</summary>
internal static class GbnfGrammars
{
    public const string Arithmetic = """
        root  ::= (expr "=" ws term "\n")+
        expr  ::= term ([-+*/] term)*
        term  ::= ident | num | "(" ws expr ")" ws
        ident ::= [a-z] [a-z0-9_]* ws
        num   ::= [0-9]+ ws
        ws    ::= [ \t\n]*
        """;

    public const string Json = """
        root   ::= object
        value  ::= object | array | string | number | ("true" | "false" | "null") ws

        object ::=
          "{" ws (
                    string ":" ws value
            ("," ws string ":" ws value)*
          )? "}" ws

        array  ::=
          "[" ws (
                    value
            ("," ws value)*
          )? "]" ws

        string ::=
          "\"" (
            [^"\\\x7F\x00-\x1F] |
            "\\" (["\\bfnrt] | "u" [0-9a-fA-F]{4}) # escapes
          )* "\"" ws

        number ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) ("." [0-9]+)? ([eE] [-+]? [0-9] [1-9]{0,15})? ws

        # Optional space: by convention, applied in this grammar after literal chars when allowed
        ws ::= | " " | "\n" [ \t]{0,20}
        """;

    public const string List = """
        root ::= item+

        # Excludes various line break characters
        item ::= "- " [^\r\n\x0b\x0c\x85\u2028\u2029]+ "\n"
        """;

    public const string Chess = """
        # Specifies chess moves as a list in algebraic notation, using PGN conventions

        # Force first move to "1. ", then any 1-2 digit number after, relying on model to follow the pattern
        root    ::= "1. " move " " move "\n" ([1-9] [0-9]? ". " move " " move "\n")+
        move    ::= (pawn | nonpawn | castle) [+#]?

        # piece type, optional file/rank, optional capture, dest file & rank
        nonpawn ::= [NBKQR] [a-h]? [1-8]? "x"? [a-h] [1-8]

        # optional file & capture, dest file & rank, optional promotion
        pawn    ::= ([a-h] "x")? [a-h] [1-8] ("=" [NBKQR])?

        castle  ::= "O-O" "-O"?
        """;

    public const string Japanese = """
        # A probably incorrect grammar for Japanese
        root        ::= jp-char+ ([ \t\n] jp-char+)*
        jp-char     ::= hiragana | katakana | punctuation | cjk
        hiragana    ::= [ぁ-ゟ]
        katakana    ::= [ァ-ヿ]
        punctuation ::= [、-〾]
        cjk         ::= [一-鿿]
        """;
}
