using System.Reflection;
using Microsoft.Extensions.DependencyInjection;
using ModelContextProtocol.Server;

namespace SandboxRunner.Host.Mcp;

/// <summary>
/// The server's resources: each <see cref="McpServerResourceAttribute"/> method of <see cref="RunResources"/>, made by the
/// SDK as <c>WithResources&lt;RunResources&gt;()</c> makes them. A published host lists their templates from its
/// snapshot (<see cref="ToolSnapshot"/>) and makes each one when a read first needs it.
/// </summary>
internal static class ResourceCatalog
{
    /// <summary>The resource methods, in listing order.</summary>
    public static IReadOnlyList<MethodInfo> Methods() =>
        [.. typeof(RunResources).GetMethods(BindingFlags.Public | BindingFlags.Instance)
            .Where(m => m.GetCustomAttribute<McpServerResourceAttribute>() is not null)
            .OrderBy(m => m.MetadataToken)];

    public static IReadOnlyList<McpServerResource> Create() => [.. Methods().Select(m => Create(m, null))];

    public static void AddResources(IMcpServerBuilder builder, ToolSnapshot.Listed? listed)
    {
        if (listed is null)
        {
            builder.WithResources<RunResources>();
            return;
        }

        // In listing order, as the snapshot was written: the methods are looked up only when a resource is first needed.
        for (var i = 0; i < listed.ResourceTemplates.Count; i++)
        {
            var (index, template) = (i, listed.ResourceTemplates[i]);
            builder.Services.AddSingleton<McpServerResource>(sp =>
            {
                var made = new Lazy<McpServerResource>(() => Create(Methods()[index], sp));
                return new SnapshotResource(template, () => made.Value);
            });
        }
    }

    private static McpServerResource Create(MethodInfo method, IServiceProvider? services) =>
        McpServerResource.Create(
            method,
            request => ActivatorUtilities.CreateInstance<RunResources>(request.Services!),
            new McpServerResourceCreateOptions { Services = services });
}
