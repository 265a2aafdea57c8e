using System.Text.Json;
using ModelContextProtocol;

namespace SandboxRunner.Host.Reports;

/// <summary>
/// <c>--json</c>: a value serialised exactly as the MCP tools' structured content is. The tools are
/// registered without serializer options, so the SDK uses <see cref="McpJsonUtilities.DefaultOptions"/>;
/// using the same options here keeps the field names, enum strings and null handling identical.
/// </summary>
internal static class JsonOutput
{
    public static string Serialize<T>(T value) => JsonSerializer.Serialize(value, McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(T)));

    public static async Task WriteAsync<T>(T value)
    {
        await Console.Out.WriteLineAsync(Serialize(value));
        await Console.Out.FlushAsync();
    }
}
