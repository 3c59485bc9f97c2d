namespace Suiron.Chat.Jinja;

/// <summary>
/// Recursive-descent parser following jinja2.parser: same precedence (or, and, not, comparisons,
/// + -, ~, * / // %, **, unary, postfix, filters and tests), same statement forms. Tags that chat
/// templates never use (extends, block, include, import) are rejected with a clear error.
/// </summary>
internal sealed class Parser
{
    /// <summary>Deeper nesting than this is refused so that hostile input cannot overflow the stack.</summary>
    private const int MaxNesting = 200;

    private static readonly HashSet<string> CompareOperators = ["==", "!=", "<", "<=", ">", ">="];

    private readonly List<Token> _tokens;
    private int _position;
    private int _nesting;
    private readonly Stack<HashSet<string>> _macroNames = new();

    private Parser(List<Token> tokens) => _tokens = tokens;

    public static List<Statement> Parse(string source)
    {
        var parser = new Parser(Lexer.Tokenize(source));
        var body = parser.Subparse(null);
        if (parser.Current.Kind != TokenKind.End) throw parser.Fail($"unexpected '{parser.Current}'");
        return body;
    }

    private Token Current => _tokens[_position];
    private Token Peek => _tokens[Math.Min(_position + 1, _tokens.Count - 1)];

    private Token Next()
    {
        Token token = _tokens[_position];
        if (_position < _tokens.Count - 1) _position++;
        return token;
    }

    private TemplateException Fail(string message, int? line = null) => new("TemplateSyntaxError", message, line ?? Current.Line);

    private Token Expect(TokenKind kind, string? text = null)
    {
        Token token = Current;
        if (token.Kind == kind && (text is null || token.Text == text)) return Next();
        string wanted = text ?? kind switch
        {
            TokenKind.Name => "name",
            TokenKind.BlockEnd => "end of statement block",
            TokenKind.VariableEnd => "end of print statement",
            _ => kind.ToString(),
        };
        if (token.Kind == TokenKind.End) throw Fail($"unexpected end of template, expected '{wanted}'.");
        throw Fail($"expected token '{wanted}', got '{token}'");
    }

    private Token ExpectOperator(string op) => Expect(TokenKind.Operator, op);

    private bool SkipOperator(string op)
    {
        if (!Current.IsOperator(op)) return false;
        Next();
        return true;
    }

    private bool SkipName(string name)
    {
        if (!Current.IsName(name)) return false;
        Next();
        return true;
    }

    private void Enter()
    {
        if (++_nesting > MaxNesting) throw Fail($"template nesting deeper than {MaxNesting} levels");
    }

    private void Leave() => _nesting--;

    // ---- statements ----

    /// <summary>Parses until one of <paramref name="endTags"/> (left as the current token, after its block begin) or the end.</summary>
    private List<Statement> Subparse(string[]? endTags)
    {
        var body = new List<Statement>();
        while (Current.Kind != TokenKind.End)
        {
            Token token = Current;
            switch (token.Kind)
            {
                case TokenKind.Data:
                    Next();
                    body.Add(new TextStatement(token.Text, token.Line));
                    break;
                case TokenKind.VariableBegin:
                    Next();
                    body.Add(new PrintStatement(ParseTuple(withConditional: true), token.Line));
                    Expect(TokenKind.VariableEnd);
                    break;
                case TokenKind.BlockBegin:
                    Next();
                    if (endTags is not null && Current.Kind == TokenKind.Name && endTags.Contains(Current.Text)) return body;
                    body.Add(ParseStatement(endTags));
                    Expect(TokenKind.BlockEnd);
                    break;
                default:
                    throw Fail($"unexpected '{token}'");
            }
        }
        if (endTags is not null)
            throw Fail($"Unexpected end of template. Jinja was looking for the following tags: {string.Join(" or ", endTags.Select(t => $"'{t}'"))}.");
        return body;
    }

    /// <summary>Expects the end of the opening tag, then parses the body up to one of the end tags.</summary>
    private List<Statement> ParseBody(string[] endTags, bool dropNeedle)
    {
        Expect(TokenKind.BlockEnd);
        var body = Subparse(endTags);
        if (dropNeedle) Next();
        return body;
    }

    private Statement ParseStatement(string[]? endTags)
    {
        Token token = Current;
        if (token.Kind != TokenKind.Name) throw Fail("tag name expected");
        Enter();
        try
        {
            switch (token.Text)
            {
                case "if": return ParseIf();
                case "for": return ParseFor();
                case "set": return ParseSet();
                case "macro": return ParseMacro();
                case "call": return ParseCallBlock();
                case "filter": return ParseFilterBlock();
                case "with": return ParseWith();
                case "break": Next(); return new BreakStatement(token.Line);
                case "continue": Next(); return new ContinueStatement(token.Line);
                case "generation": return ParseGeneration();
                case "extends" or "block" or "include" or "import" or "from" or "autoescape" or "print" or "do":
                    throw Fail($"the '{token.Text}' tag is not supported in chat templates");
            }
            string message = $"Encountered unknown tag '{token.Text}'.";
            if (endTags is not null)
                message += $" Jinja was looking for the following tags: {string.Join(" or ", endTags.Select(t => $"'{t}'"))}. The innermost block that needs to be closed is '{InnermostBlock(endTags)}'.";
            throw Fail(message);
        }
        finally
        {
            Leave();
        }
    }

    private static string InnermostBlock(string[] endTags) => endTags.FirstOrDefault(t => t.StartsWith("end", StringComparison.Ordinal))?[3..] ?? endTags[0];

    private IfStatement ParseIf()
    {
        int line = Next().Line;
        var branches = new List<(Expression, List<Statement>)>();
        List<Statement> elseBody = [];
        while (true)
        {
            Expression test = ParseTuple(withConditional: false);
            var body = ParseBody(["elif", "else", "endif"], dropNeedle: false);
            branches.Add((test, body));
            Token token = Next();
            if (token.Text == "elif") continue;
            if (token.Text == "else") elseBody = ParseBody(["endif"], dropNeedle: true);
            break;
        }
        return new IfStatement(branches, elseBody, line);
    }

    private ForStatement ParseFor()
    {
        int line = Next().Line;
        AssignTarget target = ParseAssignTarget(extraEnd: "in");
        Expect(TokenKind.Name, "in");
        Expression iterable = ParseTuple(withConditional: false, extraEnd: "recursive");
        Expression? filter = null;
        if (SkipName("if")) filter = ParseExpression();
        bool recursive = SkipName("recursive");
        var body = ParseBody(["endfor", "else"], dropNeedle: false);
        List<Statement> elseBody = [];
        if (Next().Text == "else") elseBody = ParseBody(["endfor"], dropNeedle: true);
        return new ForStatement(target, iterable, filter, recursive, body, elseBody, line);
    }

    private Statement ParseSet()
    {
        int line = Next().Line;
        AssignTarget target = ParseAssignTarget(withNamespace: true);
        if (SkipOperator("=")) return new SetStatement(target, ParseTuple(withConditional: true), line);
        FilterExpression? filter = Current.IsOperator("|") ? (FilterExpression)ParseFilter(null) : null;
        var body = ParseBody(["endset"], dropNeedle: true);
        return new SetBlockStatement(target, filter, body, line);
    }

    private MacroNode ParseMacro()
    {
        int line = Next().Line;
        string name = Expect(TokenKind.Name).Text;
        var (parameters, defaults) = ParseSignature();
        var names = new HashSet<string>();
        _macroNames.Push(names);
        List<Statement> body;
        try
        {
            body = ParseBody(["endmacro"], dropNeedle: true);
        }
        finally
        {
            _macroNames.Pop();
        }
        return new MacroNode(name, parameters, defaults, body, names.Contains("caller"), names.Contains("varargs"), names.Contains("kwargs"), line);
    }

    private (List<string>, List<Expression>) ParseSignature()
    {
        var parameters = new List<string>();
        var defaults = new List<Expression>();
        ExpectOperator("(");
        while (!Current.IsOperator(")"))
        {
            if (parameters.Count > 0) ExpectOperator(",");
            string parameter = Expect(TokenKind.Name).Text;
            if (SkipOperator("=")) defaults.Add(ParseExpression());
            else if (defaults.Count > 0) throw Fail("non-default argument follows default argument");
            parameters.Add(parameter);
        }
        ExpectOperator(")");
        return (parameters, defaults);
    }

    private CallBlockStatement ParseCallBlock()
    {
        int line = Next().Line;
        List<string> parameters = [];
        List<Expression> defaults = [];
        if (Current.IsOperator("(")) (parameters, defaults) = ParseSignature();
        Expression call = ParseExpression();
        if (call is not CallExpression callExpression) throw Fail("expected call", line);
        var names = new HashSet<string>();
        _macroNames.Push(names);
        List<Statement> body;
        try
        {
            body = ParseBody(["endcall"], dropNeedle: true);
        }
        finally
        {
            _macroNames.Pop();
        }
        var caller = new MacroNode("caller", parameters, defaults, body, names.Contains("caller"), names.Contains("varargs"), names.Contains("kwargs"), line);
        return new CallBlockStatement(callExpression, caller, line);
    }

    private FilterBlockStatement ParseFilterBlock()
    {
        int line = Next().Line;
        var filter = (FilterExpression)ParseFilter(null, startInline: true);
        var body = ParseBody(["endfilter"], dropNeedle: true);
        return new FilterBlockStatement(filter, body, line);
    }

    private WithStatement ParseWith()
    {
        int line = Next().Line;
        var assignments = new List<(AssignTarget, Expression)>();
        while (Current.Kind != TokenKind.BlockEnd)
        {
            if (assignments.Count > 0) ExpectOperator(",");
            AssignTarget target = ParseAssignTarget();
            ExpectOperator("=");
            assignments.Add((target, ParseExpression()));
        }
        var body = ParseBody(["endwith"], dropNeedle: true);
        return new WithStatement(assignments, body, line);
    }

    /// <summary>Hugging Face's <c>{% generation %}</c> tag marks assistant text for masks; it renders its body unchanged.</summary>
    private Statement ParseGeneration()
    {
        int line = Next().Line;
        var body = ParseBody(["endgeneration"], dropNeedle: true);
        return new IfStatement([(new ConstantExpression(true, line), body)], [], line);
    }

    private AssignTarget ParseAssignTarget(string? extraEnd = null, bool withNamespace = false)
    {
        Token token = Current;
        if (withNamespace && token.Kind == TokenKind.Name && Peek.IsOperator("."))
        {
            Next();
            Next();
            string attribute = Expect(TokenKind.Name).Text;
            return new NamespaceTarget(token.Text, attribute, token.Line);
        }
        Expression expression = ParseTuple(simplified: true, extraEnd: extraEnd);
        return ToTarget(expression);
    }

    private AssignTarget ToTarget(Expression expression) => expression switch
    {
        NameExpression name when name.Name is not ("true" or "false" or "none" or "True" or "False" or "None") => new NameTarget(name.Name, name.Line),
        TupleExpression tuple => new TupleTarget(tuple.Items.Select(ToTarget).ToList(), tuple.Line),
        _ => throw Fail($"can't assign to {DescribeTarget(expression)}", expression.Line),
    };

    private static string DescribeTarget(Expression expression) => expression switch
    {
        ConstantExpression => "'Const'",
        _ => $"'{expression.GetType().Name.Replace("Expression", "")}'",
    };

    // ---- expressions ----

    private bool IsTupleEnd(string? extraEnd) =>
        Current.Kind is TokenKind.VariableEnd or TokenKind.BlockEnd or TokenKind.End
        || Current.IsOperator(")")
        || (extraEnd is not null && Current.IsName(extraEnd));

    private Expression ParseTuple(bool simplified = false, bool withConditional = true, string? extraEnd = null, bool explicitParentheses = false)
    {
        int line = Current.Line;
        var items = new List<Expression>();
        bool isTuple = false;
        while (true)
        {
            if (items.Count > 0) ExpectOperator(",");
            if (IsTupleEnd(extraEnd)) break;
            items.Add(simplified ? ParsePrimary() : ParseExpression(withConditional));
            if (Current.IsOperator(",")) isTuple = true;
            else break;
            line = Current.Line;
        }
        if (!isTuple)
        {
            if (items.Count > 0) return items[0];
            if (!explicitParentheses) throw Fail($"Expected an expression, got '{Current}'");
        }
        return new TupleExpression(items, line);
    }

    private Expression ParseExpression(bool withConditional = true)
    {
        Enter();
        try
        {
            return withConditional ? ParseConditional() : ParseOr();
        }
        finally
        {
            Leave();
        }
    }

    private Expression ParseConditional()
    {
        int line = Current.Line;
        Expression expression = ParseOr();
        while (SkipName("if"))
        {
            Expression test = ParseOr();
            Expression? otherwise = SkipName("else") ? ParseConditional() : null;
            expression = new ConditionalExpression(test, expression, otherwise, line);
            line = Current.Line;
        }
        return expression;
    }

    private Expression ParseOr()
    {
        int line = Current.Line;
        Expression left = ParseAnd();
        while (SkipName("or"))
        {
            left = new OrExpression(left, ParseAnd(), line);
            line = Current.Line;
        }
        return left;
    }

    private Expression ParseAnd()
    {
        int line = Current.Line;
        Expression left = ParseNot();
        while (SkipName("and"))
        {
            left = new AndExpression(left, ParseNot(), line);
            line = Current.Line;
        }
        return left;
    }

    private Expression ParseNot()
    {
        if (Current.IsName("not"))
        {
            int line = Next().Line;
            Enter();
            try { return new NotExpression(ParseNot(), line); }
            finally { Leave(); }
        }
        return ParseCompare();
    }

    private Expression ParseCompare()
    {
        int line = Current.Line;
        Expression first = ParseAddSubtract();
        var rest = new List<(string, Expression)>();
        while (true)
        {
            if (Current.Kind == TokenKind.Operator && CompareOperators.Contains(Current.Text))
            {
                string op = Next().Text;
                rest.Add((op, ParseAddSubtract()));
            }
            else if (SkipName("in"))
            {
                rest.Add(("in", ParseAddSubtract()));
            }
            else if (Current.IsName("not") && Peek.IsName("in"))
            {
                Next();
                Next();
                rest.Add(("notin", ParseAddSubtract()));
            }
            else break;
            line = Current.Line;
        }
        return rest.Count == 0 ? first : new CompareExpression(first, rest, line);
    }

    private Expression ParseAddSubtract()
    {
        int line = Current.Line;
        Expression left = ParseConcat();
        while (Current.IsOperator("+") || Current.IsOperator("-"))
        {
            string op = Next().Text;
            left = new BinaryExpression(op, left, ParseConcat(), line);
            line = Current.Line;
        }
        return left;
    }

    private Expression ParseConcat()
    {
        int line = Current.Line;
        var parts = new List<Expression> { ParseMultiply() };
        while (SkipOperator("~")) parts.Add(ParseMultiply());
        return parts.Count == 1 ? parts[0] : new ConcatExpression(parts, line);
    }

    private Expression ParseMultiply()
    {
        int line = Current.Line;
        Expression left = ParsePower();
        while (Current.Kind == TokenKind.Operator && Current.Text is "*" or "/" or "//" or "%")
        {
            string op = Next().Text;
            left = new BinaryExpression(op, left, ParsePower(), line);
            line = Current.Line;
        }
        return left;
    }

    private Expression ParsePower()
    {
        int line = Current.Line;
        Expression left = ParseUnary();
        while (SkipOperator("**"))
        {
            left = new BinaryExpression("**", left, ParseUnary(), line);
            line = Current.Line;
        }
        return left;
    }

    private Expression ParseUnary(bool withFilter = true)
    {
        int line = Current.Line;
        Expression node;
        if (Current.IsOperator("-") || Current.IsOperator("+"))
        {
            string op = Next().Text;
            Enter();
            try { node = new UnaryExpression(op, ParseUnary(withFilter: false), line); }
            finally { Leave(); }
        }
        else
        {
            node = ParsePrimary();
        }
        node = ParsePostfix(node);
        if (withFilter) node = ParseFilterAndTests(node);
        return node;
    }

    private Expression ParsePrimary()
    {
        Token token = Current;
        switch (token.Kind)
        {
            case TokenKind.Name:
                Next();
                switch (token.Text)
                {
                    case "true" or "True": return new ConstantExpression(true, token.Line);
                    case "false" or "False": return new ConstantExpression(false, token.Line);
                    case "none" or "None": return new ConstantExpression(null, token.Line);
                }
                foreach (var names in _macroNames) names.Add(token.Text);
                return new NameExpression(token.Text, token.Line);
            case TokenKind.String:
                {
                    Next();
                    string value = (string)token.Value!;
                    // Adjacent string literals concatenate, as in Python.
                    while (Current.Kind == TokenKind.String) value += (string)Next().Value!;
                    return new ConstantExpression(value, token.Line);
                }
            case TokenKind.Integer:
            case TokenKind.Float:
                Next();
                return new ConstantExpression(token.Value, token.Line);
            case TokenKind.Operator when token.Text == "(":
                {
                    Next();
                    Enter();
                    try
                    {
                        Expression inner = ParseTuple(explicitParentheses: true);
                        ExpectOperator(")");
                        return inner;
                    }
                    finally { Leave(); }
                }
            case TokenKind.Operator when token.Text == "[":
                return ParseList();
            case TokenKind.Operator when token.Text == "{":
                return ParseDict();
        }
        if (token.Kind == TokenKind.End) throw Fail("unexpected end of template");
        throw Fail($"unexpected '{token}'");
    }

    private Expression ParseList()
    {
        int line = ExpectOperator("[").Line;
        Enter();
        try
        {
            var items = new List<Expression>();
            while (!Current.IsOperator("]"))
            {
                if (items.Count > 0) ExpectOperator(",");
                if (Current.IsOperator("]")) break;
                items.Add(ParseExpression());
            }
            ExpectOperator("]");
            return new ListExpression(items, line);
        }
        finally { Leave(); }
    }

    private Expression ParseDict()
    {
        int line = ExpectOperator("{").Line;
        Enter();
        try
        {
            var items = new List<(Expression, Expression)>();
            while (!Current.IsOperator("}"))
            {
                if (items.Count > 0) ExpectOperator(",");
                if (Current.IsOperator("}")) break;
                Expression key = ParseExpression();
                ExpectOperator(":");
                items.Add((key, ParseExpression()));
            }
            ExpectOperator("}");
            return new DictExpression(items, line);
        }
        finally { Leave(); }
    }

    private Expression ParsePostfix(Expression node)
    {
        while (true)
        {
            if (Current.IsOperator(".") || Current.IsOperator("[")) node = ParseSubscript(node);
            else if (Current.IsOperator("(")) node = ParseCall(node);
            else return node;
        }
    }

    private Expression ParseFilterAndTests(Expression node)
    {
        while (true)
        {
            if (Current.IsOperator("|")) node = ParseFilter(node);
            else if (Current.IsName("is")) node = ParseTest(node);
            else if (Current.IsOperator("(")) node = ParseCall(node);
            else return node;
        }
    }

    private Expression ParseSubscript(Expression node)
    {
        Token token = Next();
        if (token.Text == ".")
        {
            Token attribute = Next();
            if (attribute.Kind == TokenKind.Name) return new AttributeExpression(node, attribute.Text, token.Line);
            if (attribute.Kind != TokenKind.Integer) throw Fail("expected name or number", attribute.Line);
            return new ItemExpression(node, new ConstantExpression(attribute.Value, attribute.Line), token.Line);
        }
        Enter();
        try
        {
            var args = new List<Expression>();
            while (!Current.IsOperator("]"))
            {
                if (args.Count > 0) ExpectOperator(",");
                args.Add(ParseSubscribed());
            }
            ExpectOperator("]");
            Expression key = args.Count == 1 ? args[0] : new TupleExpression(args, token.Line);
            return new ItemExpression(node, key, token.Line);
        }
        finally { Leave(); }
    }

    private Expression ParseSubscribed()
    {
        int line = Current.Line;
        Expression? start = null;
        if (Current.IsOperator(":"))
        {
            Next();
        }
        else
        {
            Expression expression = ParseExpression();
            if (!Current.IsOperator(":")) return expression;
            Next();
            start = expression;
        }
        Expression? stop = null, step = null;
        if (!Current.IsOperator(":") && !Current.IsOperator("]") && !Current.IsOperator(",")) stop = ParseExpression();
        if (SkipOperator(":"))
        {
            if (!Current.IsOperator("]") && !Current.IsOperator(",")) step = ParseExpression();
        }
        return new SliceExpression(start, stop, step, line);
    }

    private CallExpression ParseCall(Expression node)
    {
        int line = Current.Line;
        return new CallExpression(node, ParseCallArguments(), line);
    }

    private CallArguments ParseCallArguments()
    {
        Token open = ExpectOperator("(");
        Enter();
        try
        {
            var positional = new List<Expression>();
            var keywords = new List<(string, Expression)>();
            Expression? dynamicPositional = null, dynamicKeywords = null;
            bool requireComma = false;
            void Ensure(bool ok)
            {
                if (!ok) throw Fail("invalid syntax for function call expression", open.Line);
            }
            while (!Current.IsOperator(")"))
            {
                if (requireComma)
                {
                    ExpectOperator(",");
                    if (Current.IsOperator(")")) break;
                }
                if (Current.IsOperator("*"))
                {
                    Ensure(dynamicPositional is null && dynamicKeywords is null);
                    Next();
                    dynamicPositional = ParseExpression();
                }
                else if (Current.IsOperator("**"))
                {
                    Ensure(dynamicKeywords is null);
                    Next();
                    dynamicKeywords = ParseExpression();
                }
                else if (Current.Kind == TokenKind.Name && Peek.IsOperator("="))
                {
                    Ensure(dynamicKeywords is null);
                    string name = Next().Text;
                    Next();
                    keywords.Add((name, ParseExpression()));
                }
                else
                {
                    Ensure(dynamicPositional is null && dynamicKeywords is null && keywords.Count == 0);
                    positional.Add(ParseExpression());
                }
                requireComma = true;
            }
            ExpectOperator(")");
            return new CallArguments(positional, keywords, dynamicPositional, dynamicKeywords);
        }
        finally { Leave(); }
    }

    private Expression ParseFilter(Expression? node, bool startInline = false)
    {
        while (Current.IsOperator("|") || startInline)
        {
            if (!startInline) Next();
            Token token = Expect(TokenKind.Name);
            string name = token.Text;
            while (SkipOperator(".")) name += "." + Expect(TokenKind.Name).Text;
            CallArguments arguments = Current.IsOperator("(") ? ParseCallArguments() : CallArguments.Empty;
            node = new FilterExpression(node, name, arguments, token.Line);
            startInline = false;
        }
        return node!;
    }

    private Expression ParseTest(Expression node)
    {
        Token token = Next();
        bool negated = SkipName("not");
        string name = Expect(TokenKind.Name).Text;
        while (SkipOperator(".")) name += "." + Expect(TokenKind.Name).Text;
        CallArguments arguments = CallArguments.Empty;
        if (Current.IsOperator("("))
        {
            arguments = ParseCallArguments();
        }
        else if ((Current.Kind is TokenKind.Name or TokenKind.String or TokenKind.Integer or TokenKind.Float
                  || Current.IsOperator("(") || Current.IsOperator("[") || Current.IsOperator("{"))
                 && !Current.IsName("else") && !Current.IsName("or") && !Current.IsName("and"))
        {
            if (Current.IsName("is")) throw Fail("You cannot chain multiple tests with is");
            Expression argument = ParsePostfix(ParsePrimary());
            arguments = new CallArguments([argument], [], null, null);
        }
        Expression test = new TestExpression(node, name, arguments, token.Line);
        return negated ? new NotExpression(test, token.Line) : test;
    }
}
