using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Unicode;
using Suiron.Inference;
using Suiron.Server.Contracts;
using static Suiron.Server.Endpoints.GenerationSupport;

namespace Suiron.Server.Endpoints;

/// <summary>
/// llama-server's own endpoints that editors and scripts call beside the OpenAI ones, with its field names and
/// defaults: POST /tokenize, POST /detokenize, POST /apply-template and GET /props.
/// </summary>
public static class LlamaServerEndpoints
{
    public static RouteGroupBuilder MapLlamaServerExtras(this RouteGroupBuilder group)
    {
        group.MapPost("/tokenize", TokenizeAsync);
        group.MapPost("/detokenize", DetokenizeAsync);
        group.MapPost("/apply-template", ApplyTemplateAsync);
        group.MapGet("/props", (ServerState state) => Results.Json(Props(state), ServerJsonContext.Web.JsonNode));
        group.MapPost("/slots/{id}", SlotActionAsync);
        return group;
    }

    /// <summary>
    /// POST /slots/{id}?action=save|restore|erase, as llama-server's: save writes the idle slot's tokens and KV cache to
    /// <c>filename</c> in <c>--slot-save-path</c>, restore loads such a file back into an idle slot (its prefix is then
    /// reused by the prefix cache, not evaluated again), erase forgets the slot's tokens.
    /// </summary>
    private static async Task SlotActionAsync(HttpContext context, ServerState state, string id)
    {
        var scheduler = state.Model.Scheduler;
        if (!int.TryParse(id, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int slot) || slot >= scheduler.SlotCount)
            throw ApiError.BadParameter("id_slot", $"There is no slot '{id}': the slots are 0 to {scheduler.SlotCount - 1}.");
        string action = context.Request.Query["action"].ToString();
        if (action is not ("save" or "restore" or "erase"))
            throw ApiError.BadParameter("action", $"'action' must be save, restore or erase (got '{action}').");
        string? path = null, filename = null;
        if (action != "erase")
        {
            if (state.Options.SlotSavePath is not { } folder)
                throw new ApiError(501, "Slot save and restore are off: start the server with --slot-save-path DIR.", "not_supported_error", code: "not_supported");
            var body = await ReadBodyAsync(context, ServerJsonContext.Web.JsonNode);
            filename = body is JsonObject o && o["filename"] is JsonValue v && v.TryGetValue(out string? name) ? name
                : throw ApiError.BadParameter("filename", "The body needs a 'filename' string.");
            if (!IsPlainFileName(filename))
                throw ApiError.BadParameter("filename", $"'{filename}' is not a plain file name: one name of 1 to 255 characters, without path separators, '..', or control characters.");
            path = Path.Combine(folder, filename);
            if (action == "restore" && !File.Exists(path))
                throw new ApiError(404, $"No saved slot '{filename}' in --slot-save-path.", param: "filename", code: "slot_file_not_found");
        }
        SlotFileResult result;
        try
        {
            result = await (action switch
            {
                "save" => scheduler.SaveSlotAsync(slot, path!),
                "restore" => scheduler.RestoreSlotAsync(slot, path!),
                _ => scheduler.EraseSlotAsync(slot),
            });
        }
        catch (InvalidDataException e) { throw new ApiError(400, $"'{filename}' cannot be restored here: {e.Message}", param: "filename", code: "invalid_slot_file"); }
        catch (NotSupportedException e) { throw new ApiError(400, e.Message, code: "not_supported"); }
        catch (ObjectDisposedException) { throw new ApiError(503, "The server is shutting down.", ApiError.ServerError) { RetryAfterSeconds = 5 }; }
        catch (InvalidOperationException e) { throw new ApiError(409, e.Message, code: "slot_busy"); }
        double ms = result.Elapsed.TotalMilliseconds;
        JsonObject answer = action switch
        {
            "save" => new JsonObject
            {
                ["id_slot"] = slot, ["filename"] = filename, ["n_saved"] = result.Tokens, ["n_written"] = result.Bytes,
                ["timings"] = new JsonObject { ["save_ms"] = ms },
            },
            "restore" => new JsonObject
            {
                ["id_slot"] = slot, ["filename"] = filename, ["n_restored"] = result.Tokens, ["n_read"] = result.Bytes,
                ["timings"] = new JsonObject { ["restore_ms"] = ms },
            },
            _ => new JsonObject { ["id_slot"] = slot, ["n_erased"] = result.Tokens },
        };
        await context.Response.WriteAsJsonAsync<JsonNode>(answer, ServerJsonContext.Web.JsonNode, contentType: null, context.RequestAborted);
    }

    /// <summary>One file name inside the save folder: nothing that could reach outside it or name a device.</summary>
    private static bool IsPlainFileName(string name)
        => name.Length is > 0 and <= 255 && name is not ("." or "..") && !name.Contains("..", StringComparison.Ordinal)
           && name.IndexOfAny(['/', '\\', ':']) < 0 && !name.Any(char.IsControl);

    /// <summary>
    /// <c>{"tokens":[…]}</c>: ids, or with <c>with_pieces</c> <c>{"id","piece"}</c> objects whose piece is the token's
    /// text (special tokens by their text) when it is whole UTF-8, else its bytes as numbers (a byte-fallback token,
    /// half of a character) — as llama-server answers.
    /// </summary>
    private static async Task TokenizeAsync(HttpContext context, ServerState state)
    {
        var request = await ReadBodyAsync(context, ServerJsonContext.Web.TokenizeRequest);
        CheckModel(state, request.Model);
        var tokenizer = state.Model.Tokenizer;
        bool addSpecial = request.AddSpecial ?? false, parseSpecial = request.ParseSpecial ?? true;
        var tokens = new List<int>();
        if (request.Content is { ValueKind: not JsonValueKind.Null } content)
        {
            if (content.ValueKind == JsonValueKind.String) tokens.AddRange(tokenizer.Encode(content.GetString()!, addSpecial, parseSpecial));
            else if (content.ValueKind == JsonValueKind.Array)
            {
                // llama-server's mixed prompt: strings are tokenized (special tokens added before the first only), ids kept.
                int i = 0;
                foreach (var part in content.EnumerateArray())
                {
                    if (part.ValueKind == JsonValueKind.String) tokens.AddRange(tokenizer.Encode(part.GetString()!, addSpecial && i == 0, parseSpecial));
                    else if (part.ValueKind == JsonValueKind.Number && part.TryGetInt32(out int id)) tokens.Add(CheckToken(state, id, $"content[{i}]"));
                    else throw ApiError.BadParameter($"content[{i}]", $"content[{i}] must be a string or a token id.");
                    i++;
                }
            }
            else throw ApiError.BadParameter("content", "'content' must be a string, or a list of strings and token ids.");
        }
        var array = new JsonArray();
        foreach (int token in tokens)
        {
            if (request.WithPieces != true)
            {
                array.Add((JsonNode)JsonValue.Create(token));
                continue;
            }
            ReadOnlySpan<byte> piece = tokenizer.Piece(token, renderSpecial: true);
            JsonNode pieceNode;
            if (Utf8.IsValid(piece)) pieceNode = JsonValue.Create(Encoding.UTF8.GetString(piece));
            else
            {
                var bytes = new JsonArray();
                foreach (byte b in piece) bytes.Add((JsonNode)JsonValue.Create((int)b));
                pieceNode = bytes;
            }
            array.Add((JsonNode)new JsonObject { ["id"] = token, ["piece"] = pieceNode });
        }
        await context.Response.WriteAsJsonAsync<JsonNode>(new JsonObject { ["tokens"] = array }, ServerJsonContext.Web.JsonNode, contentType: null, context.RequestAborted);
    }

    /// <summary><c>{"content":…}</c>: the tokens' pieces one after another (special tokens by their text), as llama-server joins them.</summary>
    private static async Task DetokenizeAsync(HttpContext context, ServerState state)
    {
        var request = await ReadBodyAsync(context, ServerJsonContext.Web.DetokenizeRequest);
        CheckModel(state, request.Model);
        var bytes = new List<byte>();
        if (request.Tokens is { ValueKind: not JsonValueKind.Null } tokens)
        {
            if (tokens.ValueKind != JsonValueKind.Array) throw ApiError.BadParameter("tokens", "'tokens' must be a list of token ids.");
            int i = 0;
            foreach (var item in tokens.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt32(out int id)) throw ApiError.BadParameter($"tokens[{i}]", $"tokens[{i}] must be a token id (a whole number).");
                bytes.AddRange(state.Model.Tokenizer.Piece(CheckToken(state, id, $"tokens[{i}]"), renderSpecial: true));
                i++;
            }
        }
        // Bytes that are not UTF-8 (a character cut between the ids given) become U+FFFD.
        string content = Encoding.UTF8.GetString(bytes.ToArray());
        await context.Response.WriteAsJsonAsync<JsonNode>(new JsonObject { ["content"] = content }, ServerJsonContext.Web.JsonNode, contentType: null, context.RequestAborted);
    }

    private static int CheckToken(ServerState state, int id, string param)
    {
        int count = state.Model.Tokenizer.Vocabulary.Count;
        if (id < 0 || id >= count) throw ApiError.BadParameter(param, $"{param} is {id}, not a token of this vocabulary (0 to {count - 1}).");
        return id;
    }

    /// <summary>
    /// <c>{"prompt":…}</c>: a chat completions request's messages (tools and chat_template_kwargs included) rendered by the
    /// model's template with the generation prompt, nothing generated — the text /v1/chat/completions would tokenize.
    /// </summary>
    private static async Task ApplyTemplateAsync(HttpContext context, ServerState state)
    {
        var request = await ReadBodyAsync(context, ServerJsonContext.Web.ChatCompletionRequest);
        CheckModel(state, request.Model);
        var tools = ChatCompletionsEndpoint.ReadTools(request);
        var messages = ChatCompletionsEndpoint.Messages(request.Messages);
        var variables = request.ChatTemplateKwargs?.Select(p => KeyValuePair.Create(p.Key, ChatCompletionsEndpoint.JsonSerializerNode(p.Value))).ToList() ?? [];
        var (prompt, _, _) = ChatTurn.Render(state, messages, tools, variables, "messages");
        await context.Response.WriteAsJsonAsync<JsonNode>(new JsonObject { ["prompt"] = prompt }, ServerJsonContext.Web.JsonNode, contentType: null, context.RequestAborted);
    }

    /// <summary>
    /// The server's properties under llama-server's names: the default generation settings (context per slot, the
    /// sampling defaults a request starts from), slots, model path and alias, the chat template, BOS/EOS text,
    /// modalities (text only) and build_info.
    /// </summary>
    private static JsonObject Props(ServerState state)
    {
        var model = state.Model;
        var defaults = new Suiron.Sampling.SamplingOptions();
        var vocabulary = model.Tokenizer.Vocabulary;
        string Token(int id) => id >= 0 ? Encoding.UTF8.GetString(model.Tokenizer.Piece(id, renderSpecial: true)) : "";
        var speculation = GenerationSupport.DefaultSpeculation(state);
        return new JsonObject
        {
            ["default_generation_settings"] = new JsonObject
            {
                ["id"] = 0,
                ["n_ctx"] = model.Scheduler.ContextSize,
                ["speculative"] = speculation is not null,
                ["is_processing"] = false,
                ["params"] = new JsonObject
                {
                    ["n_predict"] = -1,
                    ["seed"] = uint.MaxValue, // llama.cpp's LLAMA_DEFAULT_SEED: a random seed per request
                    ["temperature"] = defaults.Temperature,
                    ["top_k"] = defaults.TopK,
                    ["top_p"] = defaults.TopP,
                    ["min_p"] = defaults.MinP,
                    ["repeat_last_n"] = defaults.PenaltyLastN,
                    ["repeat_penalty"] = defaults.RepeatPenalty,
                    ["presence_penalty"] = defaults.PresencePenalty,
                    ["frequency_penalty"] = defaults.FrequencyPenalty,
                    ["stop"] = new JsonArray(),
                    ["max_tokens"] = -1,
                    ["n_probs"] = 0,
                    ["reasoning_budget_tokens"] = state.Options.ReasoningBudget ?? -1,
                    ["speculative.n_max"] = speculation?.DraftMax ?? 0,
                    ["speculative.n_min"] = speculation?.DraftMin ?? 0,
                    ["speculative.type"] = speculation is null ? "none" : speculation.MultiTokenPrediction ? "mtp" : "ngram",
                },
            },
            ["total_slots"] = model.Scheduler.SlotCount,
            ["model_alias"] = model.Id,
            ["model_path"] = model.File.Path,
            ["modalities"] = new JsonObject { ["vision"] = false, ["audio"] = false },
            ["endpoint_slots"] = false,
            ["endpoint_props"] = false,
            ["endpoint_metrics"] = true,
            ["chat_template"] = model.Chat.Template.Source,
            ["chat_template_caps"] = new JsonObject
            {
                ["supports_tools"] = model.Chat.ToolFormat.TemplateRendersTools,
                ["supports_reasoning"] = model.Chat.SupportsReasoning,
            },
            ["bos_token"] = Token(vocabulary.BosId),
            ["eos_token"] = Token(vocabulary.EosId),
            ["build_info"] = BuildInfo,
            ["is_sleeping"] = false,
        };
    }

    /// <summary>This build, as llama-server's <c>build_info</c> names its own (<c>b1234-abcdef0</c>): suiron's version.</summary>
    private static readonly string BuildInfo = "suiron-" + (typeof(LlamaServerEndpoints).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
                                                          ?? typeof(LlamaServerEndpoints).Assembly.GetName().Version?.ToString() ?? "0");
}
