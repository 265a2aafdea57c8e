using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using SandboxRunner.Configuration;
using SandboxRunner.Contract;
using SandboxRunner.Host.Composition;

namespace SandboxRunner.Host.Mcp;

/// <summary>
/// The server's tools: each <see cref="McpServerToolAttribute"/> method of <see cref="RunTools"/>, made by the SDK
/// (progress, cancellation, structured results) with <see cref="ContractSchema.Output"/> for its output schema.
/// A method's arguments are one record in its parameter named <see cref="ArgumentsParameter"/>: the tool publishes
/// that record's schema as its input schema, and <see cref="ArgumentReader"/> checks each call against the same
/// record before the SDK binds it, so what a client reads is what the server enforces.
/// </summary>
internal static class ToolCatalog
{
    public const string ArgumentsParameter = "arguments";

    /// <summary>The record a tool method takes as its arguments; null for a tool that takes none.</summary>
    public static Type? ArgumentsOf(MethodInfo method) => method.GetParameters().SingleOrDefault(p => p.Name == ArgumentsParameter)?.ParameterType;

    /// <summary>How many tools the server has.</summary>
    public static int Count => Methods().Count;

    /// <summary>The tool methods, in listing order.</summary>
    private static IReadOnlyList<MethodInfo> Methods() =>
        [.. typeof(RunTools).GetMethods(BindingFlags.Public | BindingFlags.Instance)
            .Where(m => m.GetCustomAttribute<McpServerToolAttribute>() is not null)
            .OrderBy(m => m.MetadataToken)];

    /// <summary>
    /// Registers the tools. A published host lists them from the snapshot its publish wrote (<see cref="ToolSnapshot"/>) and
    /// makes them in the background once the server has started (or at the first call); without a snapshot of this very
    /// build they are made on another thread while the host is built and its services start: making the first one warms
    /// the SDK's reflection and schema machinery (about half the server's start, BENCHMARKS.md). Whoever first needs the
    /// tools waits for them; a tool the catalog refuses (see <see cref="Create(MethodInfo)"/>) still fails the server's
    /// start, and a publish (which makes them to write the snapshot).
    /// </summary>
    public static void AddTools(IServiceCollection services, ToolSnapshot.Listed? snapshot)
    {
        if (snapshot?.Tools is { } listed)
        {
            // In listing order, as the snapshot was written; the methods are looked up when the tools are made.
            var lazy = new Lazy<Task<IReadOnlyList<McpServerTool>>>(() => Task.Run(Create));
            for (var i = 0; i < listed.Count; i++)
            {
                services.AddSingleton<McpServerTool>(new SnapshotTool(listed[i], () => lazy.Value, i));
            }

            services.AddHostedService(sp => new ToolWarmup(sp.GetRequiredService<IHostApplicationLifetime>(), () => lazy.Value));
            return;
        }

        var count = Count;
        var making = Task.Run(Create);
        for (var i = 0; i < count; i++)
        {
            var index = i;
            services.AddSingleton(_ => making.GetAwaiter().GetResult()[index]);
        }
    }

    public static IReadOnlyList<McpServerTool> Create()
    {
        var tools = Methods().Select(Create).ToList();

        var schemas = tools.Select(t => (
            t.ProtocolTool.Name,
            Input: JsonNode.Parse(t.ProtocolTool.InputSchema.GetRawText())!.AsObject(),
            Output: t.ProtocolTool.OutputSchema is { } output ? JsonNode.Parse(output.GetRawText())!.AsObject() : null)).ToList();
        ContractSchema.SayOnce(schemas);
        foreach (var (tool, (_, input, output)) in tools.Zip(schemas))
        {
            tool.ProtocolTool.InputSchema = JsonSerializer.SerializeToElement(input, ContractSchema.Json);
            tool.ProtocolTool.OutputSchema = output is null ? null : JsonSerializer.SerializeToElement(output, ContractSchema.Json);
        }

        StartupTrace.Mark("tool catalog made");
        return tools;
    }

    private static McpServerTool Create(MethodInfo method)
    {
        var tool = McpServerTool.Create(
            method,
            request => ActivatorUtilities.CreateInstance<RunTools>(request.Services!),
            new McpServerToolCreateOptions { SchemaCreateOptions = ContractSchema.Output });

        // Any other parameter the SDK would publish would bypass the reader: refuse to start with one.
        var published = tool.ProtocolTool.InputSchema.TryGetProperty("properties", out var properties)
            ? properties.EnumerateObject().Select(p => p.Name).ToList()
            : [];
        if (published.Any(name => name != ArgumentsParameter))
        {
            throw new InvalidOperationException($"{tool.ProtocolTool.Name}: take arguments as one record parameter named '{ArgumentsParameter}', not {string.Join(", ", published)}");
        }

        var arguments = ArgumentsOf(method);
        tool.ProtocolTool.InputSchema = JsonSerializer.SerializeToElement(ContractSchema.InputSchema(arguments), ContractSchema.Json);
        return new CheckedTool(tool, arguments);
    }

    /// <summary>Reads the call's arguments through <see cref="ArgumentReader"/>, then hands them to the SDK as the method's one parameter.</summary>
    private sealed class CheckedTool(McpServerTool inner, Type? arguments) : DelegatingMcpServerTool(inner)
    {
        public override ValueTask<CallToolResult> InvokeAsync(RequestContext<CallToolRequestParams> request, CancellationToken cancellationToken = default)
        {
            var given = JsonSerializer.SerializeToElement(request.Params?.Arguments ?? new Dictionary<string, JsonElement>(), ContractSchema.Json);
            var problems = ArgumentReader.Check(arguments ?? typeof(NoArguments), given, out var normalized);
            if (problems.Count > 0)
            {
                var error = new InvalidInputException($"{ProtocolTool.Name} arguments", problems);
                return ValueTask.FromResult(new CallToolResult { IsError = true, Content = [new TextContentBlock { Text = error.Message }] });
            }

            if (request.Params is { } parameters)
            {
                parameters.Arguments = arguments is null ? new Dictionary<string, JsonElement>() : new Dictionary<string, JsonElement> { [ArgumentsParameter] = normalized };
            }

            return base.InvokeAsync(request, cancellationToken);
        }
    }

    /// <summary>
    /// Makes the listed tools once the server has answered its client's handshake (<see cref="ServerWorkspace.OpenAfter"/>
    /// after the start, as the workspace), so the first call finds them made.
    /// </summary>
    private sealed class ToolWarmup(IHostApplicationLifetime lifetime, Func<Task> make) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            lifetime.ApplicationStarted.Register(() => _ = WarmAsync(lifetime.ApplicationStopping));
            return Task.CompletedTask;
        }

        private async Task WarmAsync(CancellationToken stopping)
        {
            try
            {
                await Task.Delay(ServerWorkspace.OpenAfter, stopping);
                await make();
            }
            catch (Exception)
            {
                // Stopped first, or the tools could not be made: the first call that needs them says why.
            }
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    /// <summary>The arguments of a tool that takes none: any field given is unknown.</summary>
    internal sealed record NoArguments;
}
