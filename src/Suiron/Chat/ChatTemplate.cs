using Suiron.Chat.Jinja;

namespace Suiron.Chat;

/// <summary>
/// A chat template (the Jinja2 text stored as <c>tokenizer.chat_template</c> in a GGUF file), parsed
/// once and rendered as Hugging Face's <c>apply_chat_template</c> renders it with Python Jinja2:
/// sandboxed, trim_blocks and lstrip_blocks on, loop controls, <c>raise_exception</c>,
/// <c>strftime_now</c> and a <c>tojson</c> that keeps non-ASCII text. Safe to share between threads.
/// </summary>
/// <example><c>new ChatTemplate(source).Render(TemplateContext.FromJson(json).Set("bos_token", "&lt;s&gt;"))</c></example>
public sealed class ChatTemplate
{
    private readonly List<Statement> _body;

    /// <summary>Parses <paramref name="source"/>; throws <see cref="TemplateException"/> (kind TemplateSyntaxError) if it is not valid.</summary>
    public ChatTemplate(string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        Source = source;
        _body = Parser.Parse(source);
    }

    /// <summary>The template's Jinja source text.</summary>
    public string Source { get; }

    /// <summary>
    /// For models without a template: ChatML (<c>&lt;|im_start|&gt;role\ncontent&lt;|im_end|&gt;\n</c>), as llama.cpp falls back to.
    /// Content given as a list of parts renders the text parts.
    /// </summary>
    public static ChatTemplate ChatMLFallback { get; } = new(
        "{%- for message in messages -%}" +
        "{{- '<|im_start|>' + message['role'] + '\\n' -}}" +
        "{%- if message['content'] is string -%}{{- message['content'] -}}" +
        "{%- elif message['content'] is iterable -%}" +
        "{%- for part in message['content'] if part['type'] == 'text' -%}{{- part['text'] -}}{%- endfor -%}" +
        "{%- endif -%}" +
        "{{- '<|im_end|>\\n' -}}" +
        "{%- endfor -%}" +
        "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}");

    /// <summary>Renders with <paramref name="context"/>; throws <see cref="TemplateException"/> when the template raises or fails.</summary>
    public string Render(TemplateContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var renderer = new Renderer(context.Now ?? DateTime.Now, context.StepBudget);
        return renderer.Render(_body, context.CreateScope(TemplateGlobals.Scope));
    }

    /// <summary>Renders with plain .NET or JSON values (see <see cref="TemplateContext"/>).</summary>
    public string Render(IEnumerable<KeyValuePair<string, object?>> variables) => Render(TemplateContext.FromDictionary(variables));
}
