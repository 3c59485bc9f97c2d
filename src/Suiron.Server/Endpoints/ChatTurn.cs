using System.Text.Json.Nodes;
using Suiron.Chat;
using Suiron.Inference;
using Suiron.Sampling.Grammar;
using static Suiron.Server.Endpoints.GenerationSupport;

namespace Suiron.Server.Endpoints;

/// <summary>
/// The functions a request offers, in the shape templates take (<c>[{"type":"function","function":{"name",
/// "description","parameters"}}]</c>, as Hugging Face passes them), and the ones of which one must be called
/// (<c>tool_choice</c> required or a named function); null <see cref="Forced"/> leaves the choice to the model.
/// </summary>
internal sealed record ToolSelection(JsonArray All, JsonArray? Forced)
{
    /// <summary>A function in the template's shape; a parameters schema that is not a usable JSON Schema → 400 naming <paramref name="parametersParam"/>.</summary>
    public static JsonObject Function(string name, string? description, JsonNode? parameters, string parametersParam)
    {
        var function = new JsonObject { ["name"] = name };
        if (description is not null) function["description"] = description;
        if (parameters is not null)
        {
            if (parameters is not JsonObject) throw ApiError.BadParameter(parametersParam, $"{parametersParam} must be a JSON Schema object.");
            try
            {
                JsonSchemaKeywords.Check(parameters);
            }
            catch (GrammarException e)
            {
                throw new ApiError(400, $"Invalid JSON schema in '{parametersParam}': {e.Message}",
                    param: e.SchemaPath is { } path ? $"{parametersParam}.{path}" : parametersParam, code: "invalid_grammar");
            }
            function["parameters"] = parameters.DeepClone();
        }
        return new JsonObject { ["type"] = "function", ["function"] = function };
    }

    /// <summary>
    /// The selection for <paramref name="tools"/> (built by <see cref="Function"/>) under a choice: null when there are
    /// no tools or the choice is none; <paramref name="required"/> forces one of all, <paramref name="named"/> that one.
    /// </summary>
    public static ToolSelection? Choose(JsonArray tools, bool none, bool required, string? named, string choiceParam)
    {
        if (tools.Count == 0 || none) return null;
        if (named is not null)
        {
            var match = tools.Where(t => t!["function"]!["name"]!.GetValue<string>() == named).Select(t => t!.DeepClone()).ToArray();
            if (match.Length == 0) throw ApiError.BadParameter(choiceParam, $"'{choiceParam}' names the function '{named}', which is not in 'tools'.");
            return new ToolSelection(tools, new JsonArray(match));
        }
        return new ToolSelection(tools, required ? tools : null);
    }
}

/// <summary>
/// One chat generation as every chat API asks for it — template messages (role, content, tool_calls, tool_call_id,
/// reasoning_content), tools, template variables, generation options — rendered by the model's template and queued.
/// /v1/chat/completions and /v1/messages are translations onto this; what comes back is split by the same reasoning
/// and tool-call parsers.
/// </summary>
internal sealed class ChatTurn
{
    private ChatTurn(GenerationStream stream, ToolCallFormat? format, bool splitReasoning, bool startsInReasoning, ReasoningTags reasoningTags)
    {
        ReasoningTags = reasoningTags;
        Stream = stream;
        ToolFormat = format;
        SplitsReasoning = splitReasoning;
        StartsInReasoning = startsInReasoning;
    }

    public GenerationStream Stream { get; }
    /// <summary>How calls are parsed from the reply; null when the request has no tools (or tool_choice none).</summary>
    public ToolCallFormat? ToolFormat { get; }
    /// <summary>The template knows <c>&lt;think&gt;</c>: the reply's reasoning is split from its answer.</summary>
    public bool SplitsReasoning { get; }
    /// <summary>The prompt opened the reasoning block, so the reply starts inside it.</summary>
    public bool StartsInReasoning { get; }

    /// <summary>The tags the model's family marks its reasoning and answer with.</summary>
    public ReasoningTags ReasoningTags { get; }

    public ReasoningParser? NewReasoningParser() => SplitsReasoning ? new ReasoningParser(StartsInReasoning, ReasoningTags) : null;
    public ToolCallStreamParser? NewToolCallParser() => ToolFormat is null ? null : new ToolCallStreamParser(ToolFormat);

    /// <summary>
    /// The prompt text and tokens for <paramref name="messages"/>, with the tools applied as the model's family takes
    /// them; <paramref name="prefill"/> is the start of the reply, written after the generation prompt for the model to continue.
    /// </summary>
    public static (string Text, int[] Tokens, ToolCallFormat? Format) Render(ServerState state, JsonArray messages, ToolSelection? tools,
        List<KeyValuePair<string, JsonNode?>> variables, string messagesParam, string? prefill = null)
    {
        ChatPrompt chat = state.Model.Chat;
        ToolCallFormat? format = null;
        if (tools is not null)
        {
            format = chat.ToolFormat;
            if (format.TemplateRendersTools) variables.Add(KeyValuePair.Create<string, JsonNode?>("tools", tools.All.DeepClone()));
            else messages = format.PrepareMessages(messages, tools.All);
        }
        string prompt;
        try
        {
            prompt = chat.Render(messages, variables: variables);
        }
        catch (TemplateException e)
        {
            throw new ApiError(400, $"The chat template rejected the conversation: {e.Message}", param: messagesParam, code: "template_error");
        }
        prompt += prefill;
        return (prompt, chat.Encode(prompt), format);
    }

    /// <summary>
    /// Renders and queues the generation. A forced call is constrained to the family's call syntax and the function's
    /// schema (and cannot be combined with another output grammar); <paramref name="reasoningBudget"/> ends the
    /// reasoning block after that many tokens; the reply continues <paramref name="prefill"/> (not repeated in it).
    /// </summary>
    public static ChatTurn Start(ServerState state, JsonArray messages, ToolSelection? tools, List<KeyValuePair<string, JsonNode?>> variables,
        GenerationOptions options, int logprobs, string messagesParam, string toolChoiceParam, int? reasoningBudget, CancellationToken cancellation,
        string? prefill = null)
    {
        ChatPrompt chat = state.Model.Chat;
        var (prompt, tokens, format) = Render(state, messages, tools, variables, messagesParam, prefill);
        if (format is not null)
        {
            options = options with { RenderedTokens = chat.ToolTokens };
            if (tools!.Forced is { } forced)
            {
                if (options.Grammar is not null)
                    throw ApiError.BadParameter(toolChoiceParam, "A required tool call cannot be combined with 'response_format' or 'grammar'.");
                try
                {
                    var grammar = Grammar.Parse(format.Grammar(forced));
                    _ = new GrammarMatcher(grammar); // too ambiguous to start: the request's fault (400)
                    options = options with { Grammar = grammar };
                }
                catch (GrammarException e)
                {
                    throw new ApiError(400, $"A tool's parameters schema cannot be used: {e.Message}", param: "tools", code: "invalid_grammar");
                }
            }
        }
        if (reasoningBudget is { } budget && chat.SupportsReasoning) options = options with { ReasoningBudget = chat.ReasoningBudget(budget, prompt) };
        var stream = Submit(state, tokens, options, logprobs, messagesParam, cancellation);
        return new ChatTurn(stream, format, chat.SupportsReasoning, chat.StartsInReasoning(prompt), chat.ReasoningTags);
    }
}
