using System.Text.Json;
using Suiron.Server.Contracts;

namespace Suiron.Server.Endpoints;

/// <summary>
/// The prompt tokens a generation request would be evaluated on, found as its endpoint finds them (chat template,
/// tools and template variables applied) but without queueing anything: what a cluster routes by.
/// </summary>
internal static class RoutingPrompt
{
    /// <summary>The generation endpoints whose prompt <see cref="Tokens"/> knows.</summary>
    public static bool Routes(PathString path)
        => path.Equals("/v1/chat/completions", StringComparison.OrdinalIgnoreCase)
           || path.Equals("/v1/completions", StringComparison.OrdinalIgnoreCase)
           || path.Equals("/v1/messages", StringComparison.OrdinalIgnoreCase);

    /// <summary>The prompt's tokens, or null when the body is not a request this server would accept (its endpoint then answers the error).</summary>
    public static int[]? Tokens(ServerState state, PathString path, ReadOnlySpan<byte> body)
    {
        try
        {
            if (path.Equals("/v1/chat/completions", StringComparison.OrdinalIgnoreCase))
            {
                var request = JsonSerializer.Deserialize(body, ServerJsonContext.Web.ChatCompletionRequest);
                if (request is null) return null;
                var variables = request.ChatTemplateKwargs?.Select(p => KeyValuePair.Create(p.Key, ChatCompletionsEndpoint.JsonSerializerNode(p.Value))).ToList() ?? [];
                return ChatTurn.Render(state, ChatCompletionsEndpoint.Messages(request.Messages), ChatCompletionsEndpoint.ReadTools(request), variables, "messages").Tokens;
            }
            if (path.Equals("/v1/completions", StringComparison.OrdinalIgnoreCase))
            {
                var request = JsonSerializer.Deserialize(body, ServerJsonContext.Web.CompletionRequest);
                return request is null ? null : CompletionsEndpoint.PromptTokens(state, request.Prompt);
            }
            if (path.Equals("/v1/messages", StringComparison.OrdinalIgnoreCase))
            {
                var request = JsonSerializer.Deserialize(body, ServerJsonContext.Web.AnthropicMessagesRequest);
                if (request is null) return null;
                var messages = AnthropicConversation.Messages(request);
                string? prefill = AnthropicConversation.TakePrefill(messages);
                var thinking = AnthropicConversation.Thinking(request, request.MaxTokens ?? 1);
                return ChatTurn.Render(state, messages, AnthropicConversation.Tools(request), thinking.Variables, "messages", prefill).Tokens;
            }
            return null;
        }
        catch (Exception e) when (e is ApiError or JsonException or InvalidOperationException or ArgumentException)
        {
            return null;
        }
    }
}
