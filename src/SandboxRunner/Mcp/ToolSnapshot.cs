using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using SandboxRunner.Contract;

namespace SandboxRunner.Host.Mcp;

/// <summary>
/// The tool list as <see cref="ToolCatalog.Create()"/> made it, and the resource templates as <see cref="ResourceCatalog.Create()"/> did, written beside the published host by <c>dotnet publish</c>
/// (the project file runs the published host once with <see cref="WriteVariable"/> set), so that a server answers
/// <c>tools/list</c> without making its tools first: making them (the SDK's reflection over the tool methods, the schema
/// export of every argument and result record) was half of the server's start-up (BENCHMARKS.md).
/// The snapshot names the builds it was made from (<see cref="Key"/>: the host, the library, the SDK, the schema
/// exporter and the JSON serializer, by module version id); any other build reads it as absent and makes its tools
/// as before, so a replaced assembly or a runtime update never serves a list that is not this build's.
/// </summary>
internal static class ToolSnapshot
{
    /// <summary>Set to a file path, the host writes the snapshot there and exits (the publish step's use only).</summary>
    public const string WriteVariable = "SANDBOX_RUNNER_WRITE_TOOL_SNAPSHOT";

    /// <summary>The snapshot's name beside the host's assembly.</summary>
    public const string FileName = "sandbox-runner.tools.json";

    /// <summary>The builds whose code decides the list: a change to any of them makes another list.</summary>
    public static string Key() => string.Join(
        ' ',
        new[] { typeof(ToolSnapshot), typeof(ContractSchema), typeof(McpServerTool), typeof(McpServerToolAttribute), typeof(AIJsonUtilities), typeof(JsonSerializer) }
            .Select(t => t.Assembly.ManifestModule.ModuleVersionId.ToString("N")));

    /// <summary>Writes the lists; every resource must be a template (the snapshot keeps templates only).</summary>
    public static void Write(string path, IReadOnlyList<McpServerTool> tools, IReadOnlyList<McpServerResource> resources)
    {
        if (resources.FirstOrDefault(r => r.ProtocolResource is not null) is { } direct)
        {
            throw new InvalidOperationException($"{direct.ProtocolResourceTemplate.UriTemplate}: the tool snapshot keeps resource templates only; give the resource a template parameter or teach ToolSnapshot direct resources");
        }

        // The protocol's own list results, which the SDK's source-generated JSON context reads without reflection.
        var snapshot = new JsonObject
        {
            ["key"] = Key(),
            ["tools"] = JsonSerializer.SerializeToNode(new ListToolsResult { Tools = [.. tools.Select(t => t.ProtocolTool)] }, McpJsonUtilities.DefaultOptions),
            ["resourceTemplates"] = JsonSerializer.SerializeToNode(
                new ListResourceTemplatesResult { ResourceTemplates = [.. resources.Select(r => r.ProtocolResourceTemplate)] }, McpJsonUtilities.DefaultOptions),
        };
        var temporary = $"{path}.{Environment.ProcessId}.tmp";
        File.WriteAllText(temporary, snapshot.ToJsonString());
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>The lists of the snapshot in <paramref name="folder"/>, when there is one made by this very build; otherwise null.</summary>
    public static Listed? Read(string folder)
    {
        try
        {
            var path = Path.Combine(folder, FileName);
            if (!File.Exists(path))
            {
                return null;
            }

            using var document = JsonDocument.Parse(File.ReadAllBytes(path));
            var root = document.RootElement;
            if (!root.TryGetProperty("key", out var key) || key.GetString() != Key()
                || !root.TryGetProperty("tools", out var tools)
                || !root.TryGetProperty("resourceTemplates", out var templates))
            {
                return null;
            }

            return tools.Deserialize<ListToolsResult>(McpJsonUtilities.DefaultOptions) is { Tools: { } toolList }
                && templates.Deserialize<ListResourceTemplatesResult>(McpJsonUtilities.DefaultOptions) is { ResourceTemplates: { } templateList }
                ? new Listed(toolList, templateList)
                : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            // An unreadable snapshot costs only time: the tools are made as if there were none.
            return null;
        }
    }

    /// <summary>What a snapshot lists: the tools and the resource templates, each in the order its catalog makes them.</summary>
    internal sealed record Listed(IList<Tool> Tools, IList<ResourceTemplate> ResourceTemplates);
}

/// <summary>
/// A tool as the snapshot lists it; the tool itself (<see cref="ToolCatalog.Create()"/>, with its argument check) is made
/// in the background after the server has started, or by the first call, whichever comes first, and every call goes to it.
/// </summary>
internal sealed class SnapshotTool(Tool listed, Func<Task<IReadOnlyList<McpServerTool>>> made, int index) : McpServerTool
{
    public override Tool ProtocolTool => listed;

    public override IReadOnlyList<object> Metadata => made().GetAwaiter().GetResult()[index].Metadata;

    public override async ValueTask<CallToolResult> InvokeAsync(RequestContext<CallToolRequestParams> request, CancellationToken cancellationToken = default)
    {
        var tools = await made().WaitAsync(cancellationToken);
        return await tools[index].InvokeAsync(request, cancellationToken);
    }
}

/// <summary>A resource as the snapshot lists it; matching a URI or reading one goes to the resource itself, made on first need.</summary>
internal sealed class SnapshotResource(ResourceTemplate listed, Func<McpServerResource> made) : McpServerResource
{
    public override ResourceTemplate ProtocolResourceTemplate => listed;

    /// <summary>None: the snapshot holds templates only (<see cref="ToolSnapshot.Write"/> refuses a direct resource).</summary>
    public override Resource? ProtocolResource => null;

    public override IReadOnlyList<object> Metadata => made().Metadata;

    public override bool IsMatch(string uri) => made().IsMatch(uri);

    public override ValueTask<ReadResourceResult> ReadAsync(RequestContext<ReadResourceRequestParams> request, CancellationToken cancellationToken = default) =>
        made().ReadAsync(request, cancellationToken);
}
