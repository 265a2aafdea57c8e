using Docker.DotNet;

namespace SandboxRunner.Boxes.Docker;

/// <summary>What a failed Docker call says: what failed and what the engine said, instead of the SDK's bare "An error occurred".</summary>
internal static class DockerErrors
{
    public static InvalidOperationException Failure(string what, DockerApiException e)
    {
        var body = e.ResponseBody?.Trim() ?? "";
        if (body.StartsWith('{'))
        {
            try
            {
                using var json = System.Text.Json.JsonDocument.Parse(body);
                if (json.RootElement.TryGetProperty("message", out var m) && m.ValueKind == System.Text.Json.JsonValueKind.String)
                {
                    body = m.GetString() ?? body;
                }
            }
            catch (System.Text.Json.JsonException)
            {
            }
        }

        return new InvalidOperationException($"Docker: {what} failed (HTTP {(int)e.StatusCode}): {(body.Length > 0 ? body : e.Message)}", e);
    }

    /// <summary>The root cause's message (connection refused, a certificate rejected...), which the outer exceptions hide.</summary>
    public static string Innermost(Exception e)
    {
        while (e.InnerException is { } inner)
        {
            e = inner;
        }

        return e.Message.TrimEnd('.');
    }

    /// <summary>The short form of a container id, as the docker CLI shows it.</summary>
    public static string Short(string id) => id[..Math.Min(12, id.Length)];

    /// <summary>The engine's list filter: every label (<c>name</c> or <c>name=value</c>) must match.</summary>
    public static Dictionary<string, IDictionary<string, bool>> LabelFilter(LabelSelector selector) =>
        new() { ["label"] = selector.Labels.ToDictionary(kv => kv.Value is null ? kv.Key : $"{kv.Key}={kv.Value}", _ => true) };
}
