using Suiron.Gguf;
using Suiron.Tensors;

namespace Suiron.ModelQuantization;

/// <summary>One tensor of the output file: where it comes from and the type it is written in.</summary>
public sealed record PlannedTensor(GgufTensorInfo Source, TensorType TargetType, bool FellBack)
{
    /// <summary>The tensor's name.</summary>
    public string Name => Source.Name;
    /// <summary>False when the tensor is copied byte for byte (same type, or a tensor that is never quantized).</summary>
    public bool Converts => TargetType != Source.Type;
}

/// <summary>
/// Decides each tensor's type the way llama.cpp's llama-quant.cpp does (with or without an importance matrix, no overrides), so our
/// output has the same tensor types as llama-quantize's: which tensors are quantized at all, the per-layer choices of the
/// k-quant mixtures, the output/embedding rules and the fallback for rows a block type cannot encode. The counters
/// (how many attn_v / ffn_down tensors have been seen) make the result depend on the order tensors are planned in,
/// which is llama.cpp's order (<see cref="LlamaOrder"/>).
/// </summary>
internal sealed class TensorTypePlanner
{
    private enum Category { TokenEmbedding, AttentionQ, AttentionV, AttentionK, AttentionQkv, AttentionKvB, AttentionOutput, FfnUp, FfnGate, FfnDown, Output, Other }

    private readonly ModelFileType _fileType;
    private readonly bool _pure;
    private readonly bool _hasImportance;     // an importance matrix is given: llama.cpp's has_imatrix rules apply
    private readonly string _architecture;
    private readonly int _layerCount;
    private readonly int _expertCount;
    private readonly int _groupedQueryFactor; // heads per KV head in layer 0 (llama.cpp's n_gqa()), 0 when unknown
    private readonly bool _is70B;             // llama.cpp's LLM_TYPE_70B: attn_v gets more bits because 8 heads share it
    private readonly bool _hasTiedEmbeddings; // no output.weight: token_embd doubles as the output matrix
    private readonly int _attentionVCount;

    private int _attentionVSeen;
    private int _ffnDownSeen;
    private int _ffnGateSeen;
    private int _ffnUpSeen;

    private TensorTypePlanner(GgufFile model, IReadOnlyList<GgufTensorInfo> tensors, ModelFileType fileType, bool pure, bool hasImportance)
    {
        _fileType = fileType;
        _pure = pure;
        _hasImportance = hasImportance;
        _architecture = model.GetStringOrNull("general.architecture") ?? "";
        string prefix = _architecture + ".";
        _layerCount = model.GetInt32(prefix + "block_count", 0);
        _expertCount = model.GetInt32(prefix + "expert_count", 0);
        int heads = FirstOfScalarOrArray(model, prefix + "attention.head_count", 0);
        int kvHeads = FirstOfScalarOrArray(model, prefix + "attention.head_count_kv", heads);
        _groupedQueryFactor = kvHeads == 0 ? 0 : heads / kvHeads;
        _is70B = _layerCount == 80 && _architecture switch
        {
            "llama" => _expertCount != 8 && heads != kvHeads,
            "qwen2" or "deci" or "olmoe" => true,
            _ => false,
        };
        _hasTiedEmbeddings = !tensors.Any(t => t.Name == "output.weight");
        _attentionVCount = tensors.Count(t => IsAttentionVLike(CategoryOf(t.Name)));
    }

    /// <summary>The output tensors of <paramref name="model"/> quantized to <paramref name="fileType"/>, in the order llama-quantize writes them.</summary>
    /// <exception cref="NotSupportedException">A tensor's rows fit neither its type nor that type's fallback chain (llama.cpp refuses these too).</exception>
    public static IReadOnlyList<PlannedTensor> Plan(GgufFile model, ModelFileType fileType, bool pure, bool hasImportance = false)
    {
        var ordered = LlamaOrder(model.Tensors);
        var planner = new TensorTypePlanner(model, ordered, fileType, pure, hasImportance);
        return ordered.Select(planner.PlanOne).ToList();
    }

    /// <summary>
    /// llama.cpp's loader keeps tensors in a map sorted by layer number (tensors outside <c>blk.N.</c> first), then by
    /// name in byte order; llama-quantize writes them in that order.
    /// </summary>
    internal static List<GgufTensorInfo> LlamaOrder(IEnumerable<GgufTensorInfo> tensors) =>
        tensors.OrderBy(t => LayerOf(t.Name) ?? -1).ThenBy(t => t.Name, StringComparer.Ordinal).ToList();

    private PlannedTensor PlanOne(GgufTensorInfo tensor)
    {
        if (!AllowsQuantization(tensor)) return new(tensor, tensor.Type, false);

        TensorType type = ModelFileTypes.DefaultTensorType(_fileType);
        if (!ModelFileTypes.IsBlockQuantized(type)) return new(tensor, type, false);

        if (_fileType == ModelFileType.MXFP4_MOE && !_pure) type = SignificantDimensions(tensor.Shape) == 3 ? TensorType.MXFP4 : TensorType.Q8_0;
        else if (!_pure) type = MixtureType(type, tensor, CategoryOf(tensor.Name));
        var compatible = FallbackForShape(tensor, type);
        return new(tensor, compatible, compatible != type);
    }

    /// <summary>
    /// True when llama.cpp refuses to write <paramref name="tensor"/> without importance weights (its tensor_requires_imatrix):
    /// a quantizable tensor other than the token embedding or the output whose type is one of the 1-3 bit lattice types.
    /// </summary>
    public static bool RequiresImportance(PlannedTensor tensor)
    {
        if (tensor.Name is "token_embd.weight" or "per_layer_token_embd.weight" or "output.weight") return false;
        return tensor.TargetType is TensorType.IQ3_XXS or TensorType.IQ2_XXS or TensorType.IQ2_XS or TensorType.IQ2_S
            or TensorType.IQ1_M or TensorType.IQ1_S && AllowsQuantization(tensor.Source);
    }

    /// <summary>Only 2-D (and 3-D expert) weight matrices are quantized: norms, biases, routers and a few small special tensors stay as they are.</summary>
    private static bool AllowsQuantization(GgufTensorInfo tensor)
    {
        if (SignificantDimensions(tensor.Shape) < 2) return false;
        string name = tensor.Name;
        if (!name.EndsWith("weight", StringComparison.Ordinal)) return false;
        if (name is "position_embd.weight" or "token_types.weight") return false;
        foreach (string kept in NeverQuantized)
            if (name.Contains(kept, StringComparison.Ordinal)) return false;
        return true;
    }

    // Name fragments llama.cpp never quantizes: norms, MoE routers, and tensors too small or too sensitive to bother.
    private static readonly string[] NeverQuantized =
    [
        "_norm.weight", "ffn_gate_inp.weight", "ffn_gate_tid2eid.weight", "altup", "laurel", "per_layer_model_proj",
        "ssm_conv1d", "shortconv.conv.weight", "indexer.k_proj.weight", "indexer.q_proj.weight",
        "time_mix_first.weight", "time_mix_w0.weight", "time_mix_w1.weight", "time_mix_w2.weight", "time_mix_v0.weight",
        "time_mix_v1.weight", "time_mix_v2.weight", "time_mix_a0.weight", "time_mix_a1.weight", "time_mix_a2.weight",
        "time_mix_g1.weight", "time_mix_g2.weight", "time_mix_decay_w1.weight", "time_mix_decay_w2.weight",
        "time_mix_lerp_fused.weight", "attn_rel_b.weight", ".position_embd", "sam.pos_embd", "sam.neck.", "sam.net_",
        ".rel_pos", ".patch_embd", ".patch_merger", "a.rvq.codebook", "mm.a.code_embd",
    ];

    /// <summary>ggml_n_dims: the number of dimensions once trailing 1s are dropped (at least 1). GGUF writers store this many.</summary>
    internal static int SignificantDimensions(long[] shape)
    {
        int n = shape.Length;
        while (n > 1 && shape[n - 1] == 1) n--;
        return n;
    }

    /// <summary>The k-quant mixtures: which tensors get more (or fewer) bits than the file type's default.</summary>
    private TensorType MixtureType(TensorType type, GgufTensorInfo tensor, Category category)
    {
        var ft = _fileType;
        bool falcon = _architecture == "falcon";

        // The output matrix (or the token embedding when it doubles as the output) decides every logit: Q6_K, or Q8_0 when
        // its rows do not fit the default type's blocks.
        if (category == Category.Output || (_hasTiedEmbeddings && category == Category.TokenEmbedding))
        {
            if (falcon || tensor.Shape[0] % TensorTypes.BlockSize(type) != 0) return TensorType.Q8_0;
            if (ft is ModelFileType.IQ2_XXS or ModelFileType.IQ2_XS or ModelFileType.IQ3_XXS or ModelFileType.IQ1_S or ModelFileType.IQ2_S
                or ModelFileType.IQ2_M or ModelFileType.IQ1_M) return TensorType.Q5_K;
            return type != TensorType.Q8_0 ? TensorType.Q6_K : type;
        }
        if (category == Category.TokenEmbedding)
        {
            return ft switch
            {
                ModelFileType.IQ2_XXS or ModelFileType.IQ2_XS or ModelFileType.IQ1_S or ModelFileType.IQ1_M => TensorType.Q2_K,
                ModelFileType.IQ2_S or ModelFileType.IQ2_M or ModelFileType.IQ3_XXS => TensorType.IQ3_S,
                ModelFileType.TQ1_0 or ModelFileType.TQ2_0 => TensorType.Q4_K,
                _ => type,
            };
        }
        if (ft is ModelFileType.IQ2_XXS or ModelFileType.IQ2_XS or ModelFileType.IQ1_S or ModelFileType.IQ2_S or ModelFileType.IQ2_M
            or ModelFileType.IQ1_M)
            return TwoBitMixtureType(type, category);

        if (IsAttentionVLike(category))
        {
            // V feeds every output of attention without a softmax to smooth its error: the mixtures spend bits here.
            if (ft == ModelFileType.Q2_K) type = _groupedQueryFactor >= 4 ? TensorType.Q4_K : TensorType.Q3_K;
            else if (ft == ModelFileType.IQ3_XXS)
                type = _groupedQueryFactor >= 4 ? TensorType.Q4_K : !_hasImportance ? TensorType.IQ3_S : TensorType.IQ3_XXS;
            else if (ft is ModelFileType.IQ3_XS or ModelFileType.IQ3_S && _groupedQueryFactor >= 4) type = TensorType.Q4_K;
            else if (ft == ModelFileType.IQ3_M) type = TensorType.Q4_K;
            else if (ft == ModelFileType.Q3_K_M) type = _attentionVSeen < 2 ? TensorType.Q5_K : TensorType.Q4_K;
            else if (ft == ModelFileType.Q3_K_L) type = TensorType.Q5_K;
            else if (ft is ModelFileType.IQ4_NL or ModelFileType.IQ4_XS && _groupedQueryFactor >= 4) type = TensorType.Q5_K;
            else if (ft is ModelFileType.Q4_K_M or ModelFileType.Q5_K_M && UseMoreBits(_attentionVSeen, _attentionVCount)) type = TensorType.Q6_K;
            else if (ft == ModelFileType.Q4_K_S && _attentionVSeen < 4) type = TensorType.Q5_K;
            if (_is70B && type is TensorType.Q3_K or TensorType.Q4_K) type = TensorType.Q5_K;
            if (_expertCount == 8) type = TensorType.Q8_0;
            _attentionVSeen++;
            return type;
        }

        switch (category)
        {
            case Category.AttentionK:
                if (_expertCount == 8) return TensorType.Q8_0;
                return ft switch { ModelFileType.IQ3_XS => TensorType.IQ3_XXS, ModelFileType.IQ3_XXS => TensorType.IQ2_S, _ => type };

            case Category.AttentionQ:
                return ft switch { ModelFileType.IQ3_XS => TensorType.IQ3_XXS, ModelFileType.IQ3_XXS => TensorType.IQ2_S, _ => type };

            case Category.FfnDown:
            {
                var (layer, layers) = LayerInfo(_ffnDownSeen, tensor.Name);
                if (ft == ModelFileType.Q2_K) type = TensorType.Q3_K;
                else if (ft == ModelFileType.IQ3_XXS && !_hasImportance) type = layer < layers / 8 ? TensorType.Q4_K : TensorType.Q3_K;
                else if (ft == ModelFileType.Q3_K_M)
                    type = layer < layers / 16 ? TensorType.Q5_K : !falcon || UseMoreBits(layer, layers) ? TensorType.Q4_K : TensorType.Q3_K;
                else if (ft == ModelFileType.IQ3_M && (layer < layers / 8 || (_expertCount == 8 && UseMoreBits(layer, layers))))
                    type = TensorType.Q4_K;
                else if (ft == ModelFileType.Q3_K_L) type = falcon ? TensorType.Q4_K : TensorType.Q5_K;
                else if (ft == ModelFileType.Q4_K_M)
                {
                    if (falcon) type = layer < layers / 16 ? TensorType.Q6_K : UseMoreBits(layer, layers) ? TensorType.Q5_K : TensorType.Q4_K;
                    else if (UseMoreBits(layer, layers)) type = TensorType.Q6_K;
                }
                else if (ft == ModelFileType.Q5_K_M && UseMoreBits(layer, layers)) type = TensorType.Q6_K;
                else if (ft == ModelFileType.Q4_K_S && !falcon && layer < layers / 8) type = TensorType.Q5_K;
                else if (ft is ModelFileType.IQ4_NL or ModelFileType.IQ4_XS && layer < layers / 8 && !_hasImportance) type = TensorType.Q5_K;
                // Even with an importance matrix Q4_0/Q5_0 can go badly wrong on the first ffn_down layers; their _1 twins do not.
                else if (ft is ModelFileType.Q4_0 or ModelFileType.Q5_0 && _hasImportance && layer < layers / 8)
                    type = ft == ModelFileType.Q4_0 ? TensorType.Q4_1 : TensorType.Q5_1;
                _ffnDownSeen++;
                return type;
            }

            case Category.AttentionOutput:
                if (falcon) return ft == ModelFileType.Q3_K_L ? TensorType.Q4_K : type;
                if (_expertCount == 8)
                    return ft is ModelFileType.Q2_K or ModelFileType.IQ3_XS or ModelFileType.IQ3_XXS or ModelFileType.Q3_K_S or ModelFileType.Q3_K_M
                        or ModelFileType.IQ4_NL or ModelFileType.Q4_K_S or ModelFileType.Q4_K_M or ModelFileType.IQ3_S or ModelFileType.IQ3_M
                        or ModelFileType.IQ4_XS
                        ? TensorType.Q5_K : type;
                return ft switch
                {
                    ModelFileType.Q2_K => TensorType.Q3_K,
                    ModelFileType.IQ3_XXS => TensorType.IQ3_S,
                    ModelFileType.Q3_K_M => TensorType.Q4_K,
                    ModelFileType.Q3_K_L => TensorType.Q5_K,
                    ModelFileType.IQ3_M => TensorType.Q4_K,
                    _ => type,
                };

            case Category.FfnGate:
            case Category.FfnUp:
            {
                // Only the IQ3_XS mixture changes these: the middle layers drop to IQ3_XXS.
                var (layer, layers) = LayerInfo(category == Category.FfnGate ? _ffnGateSeen++ : _ffnUpSeen++, tensor.Name);
                return ft == ModelFileType.IQ3_XS && layer >= layers / 8 && layer < 7 * layers / 8 ? TensorType.IQ3_XXS : type;
            }

            default:
                return type;
        }
    }

    /// <summary>
    /// The 1-2 bit mixtures (IQ2_XXS, IQ2_XS, IQ2_S, IQ2_M, IQ1_S, IQ1_M): attention V and the first eighth of ffn_down get
    /// a 2-3 bit k- or i-quant, attention output one step up; nothing else changes (no 70B or 8-expert attention V rules here).
    /// </summary>
    private TensorType TwoBitMixtureType(TensorType type, Category category)
    {
        var ft = _fileType;
        bool iq2s = ft is ModelFileType.IQ2_S or ModelFileType.IQ2_M;
        if (IsAttentionVLike(category))
        {
            _attentionVSeen++;
            if (_groupedQueryFactor >= 4 || _expertCount >= 4) return TensorType.Q4_K;
            return iq2s ? TensorType.IQ3_S : TensorType.Q2_K;
        }
        if (_expertCount == 8 && category == Category.AttentionK) return TensorType.Q4_K;
        if (category == Category.FfnDown)
        {
            // Counted over every ffn_down tensor (experts and shared experts included), against the layer count.
            if (_ffnDownSeen++ < _layerCount / 8) return iq2s ? TensorType.IQ3_S : TensorType.Q2_K;
            return type;
        }
        if (category == Category.AttentionOutput)
        {
            if (_expertCount == 8) return TensorType.Q5_K;
            if (ft is ModelFileType.IQ1_S or ModelFileType.IQ1_M) return TensorType.IQ2_XXS;
            if (iq2s) return TensorType.IQ3_S;
        }
        return type;
    }

    /// <summary>
    /// The first and last eighth of the layers, and every third layer between, get more bits (llama.cpp's use_more_bits):
    /// quantization error hurts most at the ends of the network.
    /// </summary>
    private static bool UseMoreBits(int layer, int layers) =>
        layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2;

    /// <summary>
    /// A tensor's layer and the layer count. Dense models count tensors in order; MoE models read the layer from the name,
    /// because several ffn_down tensors (experts, shared expert) may share a layer.
    /// </summary>
    private (int Layer, int Layers) LayerInfo(int seen, string name)
    {
        if (_expertCount <= 1) return (seen, _layerCount);
        int layer = LayerOf(name) ?? throw new NotSupportedException($"Failed to determine layer for tensor {name}");
        if (layer < 0 || layer >= _layerCount)
            throw new NotSupportedException($"Bad layer {layer} for tensor {name}. Must be in [0, {_layerCount})");
        return (layer, _layerCount);
    }

    /// <summary>
    /// A type whose block fits the rows: the k-quants fall back to a 32-wide legacy type, and when even that does not fit,
    /// to F16. The legacy types have no fallback: llama.cpp refuses such a model, and so do we.
    /// </summary>
    private static TensorType FallbackForShape(GgufTensorInfo tensor, TensorType type)
    {
        long columns = tensor.Shape[0];
        if (columns % TensorTypes.BlockSize(type) == 0) return type;
        TensorType fallback = type switch
        {
            TensorType.Q2_K or TensorType.Q3_K => TensorType.Q4_0,
            TensorType.Q4_K => TensorType.Q5_0,
            TensorType.Q5_K => TensorType.Q5_1,
            TensorType.Q6_K => TensorType.Q8_0,
            TensorType.IQ1_S or TensorType.IQ1_M or TensorType.IQ2_XXS or TensorType.IQ2_XS or TensorType.IQ2_S or TensorType.IQ3_XXS
                or TensorType.IQ3_S or TensorType.IQ4_XS => TensorType.IQ4_NL,
            TensorType.TQ1_0 or TensorType.TQ2_0 => TensorType.Q4_0,
            _ => throw new NotSupportedException(
                $"Tensor '{tensor.Name}' has {columns} columns, not a multiple of {TensorTypes.BlockSize(type)} as {type} needs, and {type} has no fallback type (llama.cpp refuses this too)"),
        };
        return columns % TensorTypes.BlockSize(fallback) == 0 ? fallback : TensorType.F16;
    }

    private static Category CategoryOf(string name)
    {
        if (name == "output.weight") return Category.Output;
        if (name is "token_embd.weight" or "per_layer_token_embd.weight") return Category.TokenEmbedding;
        if (name.Contains("attn_qkv.weight", StringComparison.Ordinal)) return Category.AttentionQkv;
        if (name.Contains("attn_kv_b.weight", StringComparison.Ordinal)) return Category.AttentionKvB;
        if (name.Contains("attn_v.weight", StringComparison.Ordinal)) return Category.AttentionV;
        if (name.Contains("attn_k.weight", StringComparison.Ordinal)) return Category.AttentionK;
        if (name.Contains("attn_q.weight", StringComparison.Ordinal)) return Category.AttentionQ;
        if (name.Contains("attn_output.weight", StringComparison.Ordinal)) return Category.AttentionOutput;
        if (name.Contains("ffn_up", StringComparison.Ordinal)) return Category.FfnUp;
        if (name.Contains("ffn_gate", StringComparison.Ordinal)) return Category.FfnGate;
        if (name.Contains("ffn_down", StringComparison.Ordinal)) return Category.FfnDown;
        return Category.Other;
    }

    private static bool IsAttentionVLike(Category category) =>
        category is Category.AttentionV or Category.AttentionQkv or Category.AttentionKvB;

    /// <summary>N for a name starting with <c>blk.N.</c> (as C's <c>sscanf("blk.%d.")</c> reads it), else null.</summary>
    private static int? LayerOf(string name)
    {
        if (!name.StartsWith("blk.", StringComparison.Ordinal)) return null;
        int i = 4, sign = 1;
        if (i < name.Length && name[i] is '+' or '-')
        {
            sign = name[i] == '-' ? -1 : 1;
            i++;
        }
        int start = i;
        long value = 0;
        while (i < name.Length && char.IsAsciiDigit(name[i]) && value <= int.MaxValue) value = value * 10 + (name[i++] - '0');
        if (i == start || value > int.MaxValue) return null;
        return sign * (int)value;
    }

    private static int FirstOfScalarOrArray(GgufFile model, string key, int fallback)
    {
        if (!model.TryGetValue(key, out var value)) return fallback;
        if (!value.IsArray) return checked((int)value.AsInt64());
        int[] perLayer = value.AsInt32Array();
        return perLayer.Length > 0 ? perLayer[0] : fallback;
    }
}
