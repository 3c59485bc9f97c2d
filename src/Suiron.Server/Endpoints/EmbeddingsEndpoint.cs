using System.Runtime.InteropServices;
using System.Text.Json;
using Suiron.Embeddings;
using Suiron.Server.Contracts;
using static Suiron.Server.Endpoints.GenerationSupport;

namespace Suiron.Server.Endpoints;

/// <summary>
/// POST /v1/embeddings: one L2-normalized vector per input (a string, strings, token ids or lists of token ids), as
/// floats or base64 (little-endian float32). Texts get the model's special tokens ([CLS] … [SEP] for BERT). A bert
/// model pools as its file says; a generative model embeds with its last token's final hidden state (after the output
/// norm) unless its file declares another pooling. Inputs longer than the model takes are refused, not truncated.
/// </summary>
public static class EmbeddingsEndpoint
{
    /// <summary>Inputs per request, as OpenAI's limit.</summary>
    public const int MaxInputs = 2048;

    public static RouteGroupBuilder MapEmbeddings(this RouteGroupBuilder group)
    {
        group.MapPost("/embeddings", HandleAsync);
        return group;
    }

    private static async Task HandleAsync(HttpContext context, ServerState state)
    {
        var request = await ReadBodyAsync(context, ServerJsonContext.Web.EmbeddingRequest);
        SuironEmbeddingGenerator generator = Generator(state, request.Model);
        string format = request.EncodingFormat ?? "float";
        if (format is not ("float" or "base64"))
            throw ApiError.BadParameter("encoding_format", $"'encoding_format' must be 'float' or 'base64' (got '{format}').");
        int dimensions = generator.Model.Dimensions;
        if (request.Dimensions is { } asked && asked != dimensions)
            throw ApiError.BadParameter("dimensions", $"This model's embeddings have {dimensions} dimensions; 'dimensions' = {asked} is not supported.");

        List<int[]> inputs = Inputs(generator, request.Input);
        int limit = generator.Model.MaxTokens, total = 0;
        for (int i = 0; i < inputs.Count; i++)
        {
            if (inputs[i].Length > limit)
                throw ApiError.BadParameter("input", $"Input {i} has {inputs[i].Length} tokens; this model takes at most {limit}.");
            total += inputs[i].Length;
        }

        // One input after another on a worker thread (the model runs one forward pass at a time and spreads it over its threads).
        var data = await Task.Run(() =>
        {
            var items = new List<EmbeddingItem>(inputs.Count);
            for (int i = 0; i < inputs.Count; i++)
            {
                context.RequestAborted.ThrowIfCancellationRequested();
                float[] vector;
                try
                {
                    vector = generator.Model.Embed(inputs[i]);
                }
                catch (ArgumentException e)
                {
                    throw ApiError.BadParameter("input", $"Input {i}: {e.Message}");
                }
                items.Add(new EmbeddingItem { Index = i, Embedding = format == "base64" ? Base64(vector) : vector });
            }
            return items;
        }, context.RequestAborted);

        var response = new EmbeddingResponse
        {
            Data = data,
            Model = request.Model ?? generator.ModelId,
            Usage = new EmbeddingUsage { PromptTokens = total, TotalTokens = total },
        };
        await context.Response.WriteAsJsonAsync(response, ServerJsonContext.Web.EmbeddingResponse, contentType: null, context.RequestAborted);
    }

    /// <summary>The embedding model a request names: the served model (or its aliases), or the separate embedding model by its id.</summary>
    private static SuironEmbeddingGenerator Generator(ServerState state, string? model)
    {
        var separate = state.Options.EmbeddingModel;
        bool namesSeparate = separate is not null && model is not null
            && (model.Equals(separate.ModelId, StringComparison.OrdinalIgnoreCase) || model.Equals(separate.ModelId + ".gguf", StringComparison.OrdinalIgnoreCase));
        if (!namesSeparate && !state.Serves(model))
            throw new ApiError(404, $"The model '{model}' does not exist; this server embeds with '{separate?.ModelId ?? state.Id}'.", param: "model", code: "model_not_found");
        if (state.Stopping) throw new ApiError(503, "The server is shutting down.", ApiError.ServerError) { RetryAfterSeconds = 5 };
        try
        {
            return state.Embeddings;
        }
        catch (Exception e) when (e is NotSupportedException or ArgumentException)
        {
            throw new ApiError(400, $"The model '{state.Id}' cannot produce embeddings: {e.Message}", param: "model", code: "model_not_supported");
        }
    }

    private static List<int[]> Inputs(SuironEmbeddingGenerator generator, JsonElement? input)
    {
        const string invalid = "'input' must be a string, a list of strings, a list of token ids, or a list of lists of token ids.";
        if (input is not { } element || element.ValueKind == JsonValueKind.Null) throw ApiError.BadParameter("input", "'input' is required.");
        var inputs = new List<int[]>();
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                inputs.Add(Text(generator, element, 0));
                break;
            case JsonValueKind.Array:
                int length = element.GetArrayLength();
                if (length == 0) throw ApiError.BadParameter("input", "'input' is empty.");
                if (length > MaxInputs) throw ApiError.BadParameter("input", $"'input' has {length} items; at most {MaxInputs} are allowed per request.");
                JsonValueKind kind = element[0].ValueKind;
                if (kind == JsonValueKind.Number)
                {
                    inputs.Add(TokenIds(element, 0, invalid));
                    break;
                }
                int index = 0;
                foreach (var item in element.EnumerateArray())
                {
                    if (item.ValueKind != kind) throw ApiError.BadParameter("input", invalid);
                    inputs.Add(kind switch
                    {
                        JsonValueKind.String => Text(generator, item, index),
                        JsonValueKind.Array => TokenIds(item, index, invalid),
                        _ => throw ApiError.BadParameter("input", invalid),
                    });
                    index++;
                }
                break;
            default:
                throw ApiError.BadParameter("input", invalid);
        }
        return inputs;
    }

    private static int[] Text(SuironEmbeddingGenerator generator, JsonElement item, int index)
    {
        string text = item.GetString()!;
        if (text.Length == 0) throw ApiError.BadParameter("input", $"Input {index} is an empty string.");
        return generator.Tokenize(text);
    }

    private static int[] TokenIds(JsonElement array, int index, string invalid)
    {
        int length = array.GetArrayLength();
        if (length == 0) throw ApiError.BadParameter("input", $"Input {index} is an empty list of tokens.");
        var ids = new int[length];
        int i = 0;
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt32(out int id) || id < 0) throw ApiError.BadParameter("input", invalid);
            ids[i++] = id;
        }
        return ids;
    }

    /// <summary>OpenAI's base64 encoding: the float32 values' little-endian bytes.</summary>
    private static string Base64(float[] vector)
    {
        if (!BitConverter.IsLittleEndian)
        {
            var bytes = new byte[vector.Length * sizeof(float)];
            for (int i = 0; i < vector.Length; i++)
                System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * sizeof(float)), vector[i]);
            return Convert.ToBase64String(bytes);
        }
        return Convert.ToBase64String(MemoryMarshal.AsBytes(vector.AsSpan()));
    }
}
