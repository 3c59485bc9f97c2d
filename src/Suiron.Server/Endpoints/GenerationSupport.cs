using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Suiron.Inference;
using Suiron.Sampling;
using Suiron.Sampling.Grammar;
using Suiron.Server.Contracts;

namespace Suiron.Server.Endpoints;

/// <summary>Request reading, parameter checks and submission shared by the chat and text completion endpoints.</summary>
internal static class GenerationSupport
{
    private const int MaxStopStrings = 4;

    /// <summary>
    /// Reads and deserializes the body: a content type other than JSON → 415 (a page's form or text/plain fetch cannot
    /// reach the endpoint without a CORS preflight), malformed JSON → 400 naming the place, a string that is not
    /// Unicode → 400 naming the field, a body over the limit → 413.
    /// </summary>
    public static async Task<T> ReadBodyAsync<T>(HttpContext context, JsonTypeInfo<T> type) where T : class
    {
        if (!context.Request.HasJsonContentType())
            throw new ApiError(415, $"The request body must be JSON, sent with 'Content-Type: application/json' (got '{context.Request.ContentType ?? "none"}').",
                code: "unsupported_media_type");
        try
        {
            var buffer = new MemoryStream();
            await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
            var body = new ReadOnlyMemory<byte>(buffer.GetBuffer(), 0, (int)buffer.Length);
            if (JsonTextCheck.FindInvalidString(body.Span) is { } field)
                throw new ApiError(400, $"'{field}' is not valid Unicode text: it holds bytes that are not UTF-8 or an unpaired surrogate escape (\\ud800–\\udfff).",
                    param: field, code: "invalid_encoding");
            return JsonSerializer.Deserialize(body.Span, type) ?? throw new ApiError(400, "The request body must be a JSON object, not null.");
        }
        catch (JsonException e)
        {
            string? param = e.Path is { Length: > 2 } path ? path.TrimStart('$', '.') : null;
            // A value of the wrong type names its parameter; anything else is broken JSON.
            bool wrongType = param is not null && e.Message.StartsWith("The JSON value could not be converted", StringComparison.Ordinal);
            string message = !wrongType
                ? $"The request body is not valid JSON: {FirstSentence(e.Message)}"
                : $"Invalid value for '{param}': wrong JSON type (see the API reference for what it takes).";
            throw new ApiError(400, message, param: wrongType ? param : null, code: "invalid_json");
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw new ApiError(413, $"The request body is larger than the server's limit of {context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize} bytes.",
                code: "request_too_large");
        }
    }

    private static string FirstSentence(string message)
    {
        int end = message.IndexOf(". ", StringComparison.Ordinal);
        return end > 0 ? message[..(end + 1)] : message;
    }

    public static void CheckModel(ServerState state, string? model)
    {
        if (!state.Serves(model))
            throw new ApiError(404, $"The model '{model}' does not exist; this server serves '{state.Id}'.", param: "model", code: "model_not_found");
        if (state.Stopping) throw new ApiError(503, "The server is shutting down.", ApiError.ServerError) { RetryAfterSeconds = 5 };
    }

    /// <summary>The generation options of a request; a bad value → 400 naming the parameter.</summary>
    public static GenerationOptions Options(ServerState state, GenerationParameters p, int? maxTokens, string maxTokensName)
    {
        if (p.N is { } n && n != 1) throw ApiError.BadParameter("n", $"Only n = 1 is supported (got {n}).");
        if (maxTokens is < 0) throw ApiError.BadParameter(maxTokensName, $"'{maxTokensName}' must be ≥ 0 (got {maxTokens}).");
        var sampling = Sampling(p.Temperature, p.TopP, p.TopK, p.MinP, p.Seed, p.PresencePenalty, p.FrequencyPenalty, p.RepeatPenalty);
        return new GenerationOptions
        {
            MaxTokens = maxTokens ?? state.Model.Scheduler.ContextSize,
            Sampling = sampling,
            Stop = StopStrings(p.Stop),
            Grammar = OutputGrammar(p),
            Speculation = Speculation(state, p),
        };
    }

    /// <summary>
    /// The server's speculation (<c>--spec</c>) for requests to this model: a multi-token-prediction default does not apply
    /// to a model without a head (one of several a router serves), which then decodes without drafts.
    /// </summary>
    public static SpeculationOptions? DefaultSpeculation(ServerState state) =>
        state.Options.Speculation is { MultiTokenPrediction: true } && !state.Model.Scheduler.HasMultiTokenPrediction ? null : state.Options.Speculation;

    /// <summary>
    /// The request's speculation: the server's (<c>--spec</c>) unless it sets llama-server's <c>speculative.n_max</c> /
    /// <c>speculative.n_min</c> or Suiron's <c>speculative.type</c>. <c>n_max</c> 0 turns it off for the request; a positive
    /// <c>n_max</c> turns drafting on even where the server has none (prompt lookup unless the type says <c>mtp</c>; neither
    /// needs a draft model, and the output is the same either way). As llama-server, <c>n_min</c> is clamped to
    /// <c>n_max</c>; 0 means 1 here (a verify pass needs a draft token). <c>mtp</c> on a model without a head → 400.
    /// </summary>
    private static SpeculationOptions? Speculation(ServerState state, GenerationParameters p)
    {
        const int longest = 64;
        Check("speculative.n_max", p.SpeculativeMax is null or (>= 0 and <= longest), $"'speculative.n_max' must be in 0..{longest} (got {p.SpeculativeMax}).");
        Check("speculative.n_min", p.SpeculativeMin is null or (>= 0 and <= longest), $"'speculative.n_min' must be in 0..{longest} (got {p.SpeculativeMin}).");
        Check("speculative.p_min", p.SpeculativeMinProbability is null or (>= 0 and <= 1), $"'speculative.p_min' must be in [0, 1] (got {p.SpeculativeMinProbability}).");
        Check("speculative.type", p.SpeculativeType is null or "ngram" or "mtp", $"'speculative.type' must be 'ngram' or 'mtp' (got '{p.SpeculativeType}').");
        if (p.SpeculativeType == "mtp" && !state.Model.Scheduler.HasMultiTokenPrediction)
            throw ApiError.BadParameter("speculative.type",
                $"'speculative.type' 'mtp' needs a model with a multi-token-prediction block (nextn_predict_layers: qwen35, qwen35moe, glm-dsa); '{state.Id}' ({state.Model.Model.Info.Architecture}) has none. Use 'ngram'.");
        SpeculationOptions? server = DefaultSpeculation(state);
        if (p.SpeculativeMax is null && p.SpeculativeMin is null && p.SpeculativeType is null) return server;
        if (p.SpeculativeMax == 0) return null;
        var basis = server ?? new SpeculationOptions();
        if (p.SpeculativeType is { } type) basis = basis with { MultiTokenPrediction = type == "mtp", DraftModel = null };
        int draftMax = p.SpeculativeMax ?? basis.DraftMax;
        int draftMin = Math.Clamp(p.SpeculativeMin ?? basis.DraftMin, 1, draftMax);
        return basis with { DraftMax = draftMax, DraftMin = draftMin };
    }

    /// <summary>Sampling settings, each defaulting to llama.cpp's; a value out of range → 400 naming it. Without a seed, a random one.</summary>
    public static SamplingOptions Sampling(float? temperature, float? topP, int? topK, float? minP = null, long? seed = null,
        float? presencePenalty = null, float? frequencyPenalty = null, float? repeatPenalty = null)
    {
        var defaults = new SamplingOptions();
        var sampling = new SamplingOptions
        {
            Temperature = temperature ?? defaults.Temperature,
            TopP = topP ?? defaults.TopP,
            TopK = topK ?? defaults.TopK,
            MinP = minP ?? defaults.MinP,
            PresencePenalty = presencePenalty ?? 0,
            FrequencyPenalty = frequencyPenalty ?? 0,
            RepeatPenalty = repeatPenalty ?? 1,
            Seed = seed is { } s ? unchecked((ulong)s) : (ulong)Random.Shared.NextInt64(),
        };
        Check("temperature", sampling.Temperature is >= 0 and <= 100, $"'temperature' must be between 0 and 100 (got {sampling.Temperature}).");
        Check("top_p", sampling.TopP is > 0 and <= 1, $"'top_p' must be in (0, 1] (got {sampling.TopP}).");
        Check("top_k", sampling.TopK >= 0, $"'top_k' must be ≥ 0 (got {sampling.TopK}).");
        Check("min_p", sampling.MinP is >= 0 and <= 1, $"'min_p' must be in [0, 1] (got {sampling.MinP}).");
        Check("presence_penalty", sampling.PresencePenalty is >= -2 and <= 2, $"'presence_penalty' must be in [-2, 2] (got {sampling.PresencePenalty}).");
        Check("frequency_penalty", sampling.FrequencyPenalty is >= -2 and <= 2, $"'frequency_penalty' must be in [-2, 2] (got {sampling.FrequencyPenalty}).");
        Check("repeat_penalty", sampling.RepeatPenalty > 0, $"'repeat_penalty' must be > 0 (got {sampling.RepeatPenalty}).");
        return sampling;
    }

    /// <summary>The grammar asked for by <c>response_format</c>, <c>json_schema</c> or <c>grammar</c> (one of them); null for free text.</summary>
    private static Grammar? OutputGrammar(GenerationParameters p)
    {
        int given = (p.Grammar is not null ? 1 : 0) + (p.JsonSchema is { ValueKind: not JsonValueKind.Null } ? 1 : 0)
                    + (p.ResponseFormat is { ValueKind: not JsonValueKind.Null } ? 1 : 0);
        if (given > 1) throw ApiError.BadParameter("response_format", "Give only one of 'response_format', 'json_schema' and 'grammar'.");
        if (p.Grammar is { } gbnf) return Compile("grammar", "grammar", () => Grammar.Parse(gbnf));
        if (p.JsonSchema is { ValueKind: not JsonValueKind.Null } schema)
            return Compile("json_schema", "JSON schema", () => Grammar.FromJsonSchema(schema.GetRawText()));
        if (p.ResponseFormat is not { ValueKind: not JsonValueKind.Null } format) return null;
        if (format.ValueKind != JsonValueKind.Object || !format.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
            throw ApiError.BadParameter("response_format", "'response_format' must be an object with a 'type': text, json_object or json_schema.");
        switch (type.GetString())
        {
            case "text":
                return null;
            case "json_object":
                // llama.cpp also accepts a schema here.
                if (format.TryGetProperty("schema", out var inline) && inline.ValueKind == JsonValueKind.Object)
                    return Compile("response_format.schema", "JSON schema", () => Grammar.FromJsonSchema(inline.GetRawText()));
                return Compile("response_format", "JSON schema", () => Grammar.Parse(JsonSchemaToGrammar.AnyJsonObject));
            case "json_schema":
                if (!format.TryGetProperty("json_schema", out var wrapper) || wrapper.ValueKind != JsonValueKind.Object)
                    throw ApiError.BadParameter("response_format.json_schema", "'response_format' of type json_schema needs a 'json_schema' object with a 'schema'.");
                if (!wrapper.TryGetProperty("schema", out var body) || body.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined)
                    return Compile("response_format.json_schema", "JSON schema", () => Grammar.Parse(JsonSchemaToGrammar.AnyJsonObject));
                if (body.ValueKind is not (JsonValueKind.Object or JsonValueKind.True or JsonValueKind.False))
                    throw ApiError.BadParameter("response_format.json_schema.schema", "'response_format.json_schema.schema' must be a JSON Schema object.");
                return Compile("response_format.json_schema.schema", "JSON schema", () => Grammar.FromJsonSchema(body.GetRawText()));
            default:
                throw ApiError.BadParameter("response_format.type", $"'response_format.type' must be text, json_object or json_schema (got '{type.GetString()}').");
        }
    }

    private static Grammar Compile(string param, string what, Func<Grammar> compile) => CompileGrammar(param, what, compile);

    /// <summary>Compiles a grammar a request asked for; one that cannot be built or started → 400 naming <paramref name="param"/> (and the place in a schema).</summary>
    public static Grammar CompileGrammar(string param, string what, Func<Grammar> compile)
    {
        try
        {
            Grammar grammar = compile();
            // The first step of matching, here rather than on the scheduler's thread: a grammar too ambiguous to
            // start (more parse stacks than the matcher keeps) is the request's fault, a 400, not a failed generation.
            _ = new GrammarMatcher(grammar);
            return grammar;
        }
        catch (GrammarException e)
        {
            string where = e.SchemaPath is { } path ? $"{param}.{path}" : param;
            throw new ApiError(400, $"Invalid {what} in '{param}': {e.Message}", param: where, code: "invalid_grammar");
        }
    }

    private static void Check(string param, bool ok, string message)
    {
        if (!ok) throw ApiError.BadParameter(param, message);
    }

    private static string[] StopStrings(JsonElement? stop)
    {
        if (stop is not { } element || element.ValueKind == JsonValueKind.Null) return [];
        if (element.ValueKind == JsonValueKind.String) return [element.GetString()!];
        if (element.ValueKind != JsonValueKind.Array) throw ApiError.BadParameter("stop", "'stop' must be a string or a list of strings.");
        var stops = new List<string>();
        foreach (var item in element.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String) throw ApiError.BadParameter("stop", "'stop' must be a string or a list of strings.");
            stops.Add(item.GetString()!);
        }
        if (stops.Count > MaxStopStrings) throw ApiError.BadParameter("stop", $"'stop' takes at most {MaxStopStrings} strings (got {stops.Count}).");
        return stops.ToArray();
    }

    /// <summary>Queues the generation; a prompt over the context → 400, a full queue → 429 with Retry-After.</summary>
    public static GenerationStream Submit(ServerState state, int[] prompt, GenerationOptions options, int logprobs, string promptParam, CancellationToken cancellation)
    {
        var scheduler = state.Model.Scheduler;
        if (prompt.Length >= scheduler.ContextSize)
            throw ApiError.ContextExceeded(prompt.Length, scheduler.ContextSize, promptParam);
        try
        {
            return scheduler.Submit(new GenerationRequest(prompt, options) { Logprobs = logprobs }, cancellation);
        }
        catch (QueueFullException e)
        {
            throw new ApiError(429, e.Message, "rate_limit_exceeded", code: "queue_full") { RetryAfterSeconds = e.RetryAfterSeconds };
        }
        catch (ObjectDisposedException)
        {
            throw new ApiError(503, "The server is shutting down.", ApiError.ServerError) { RetryAfterSeconds = 5 };
        }
        catch (ArgumentException e)
        {
            throw new ApiError(400, e.Message, param: promptParam);
        }
    }

    /// <summary>
    /// The reasoning budget of a chat generation: the request's (≥ 0; −1 or absent: none asked, as llama-server
    /// reads <c>reasoning_budget_tokens</c>), else the server's <c>--reasoning-budget</c>; null for no limit.
    /// </summary>
    public static int? RequestedReasoningBudget(ServerState state, int? requested) => requested is >= 0 ? requested : state.Options.ReasoningBudget;

    public static string? FinishReasonText(FinishReason? reason) => reason switch
    {
        FinishReason.Stop => "stop",
        FinishReason.Length => "length",
        _ => null,
    };

    public static long UnixNow() => DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    /// <summary>A token's text and UTF-8 bytes as logprobs report them (special tokens by their text).</summary>
    public static (string Text, int[] Bytes) TokenText(ServerState state, int token)
    {
        ReadOnlySpan<byte> piece = state.Model.Tokenizer.Piece(token, renderSpecial: true);
        int[] bytes = new int[piece.Length];
        for (int i = 0; i < piece.Length; i++) bytes[i] = piece[i];
        return (Encoding.UTF8.GetString(piece), bytes);
    }

    public static TokenLogprobDto ChatLogprob(ServerState state, TokenLogprobs logprobs)
    {
        var (text, bytes) = TokenText(state, logprobs.Token);
        return new TokenLogprobDto
        {
            Token = text,
            Bytes = bytes,
            Logprob = logprobs.Logprob,
            TopLogprobs = logprobs.Top.Select(t =>
            {
                var (topText, topBytes) = TokenText(state, t.Token);
                return new TopLogprobDto { Token = topText, Bytes = topBytes, Logprob = t.Logprob };
            }).ToList(),
        };
    }

    public static Usage Usage(GenerationStream stream) => new()
    {
        PromptTokens = stream.PromptTokens,
        CompletionTokens = stream.GeneratedTokens,
        PromptTokensDetails = new PromptTokensDetails { CachedTokens = stream.CachedPromptTokens },
    };
}
