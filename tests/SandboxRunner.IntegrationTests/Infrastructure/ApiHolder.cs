using System.Text;
using Docker.DotNet;
using Docker.DotNet.Models;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;

namespace SandboxRunner.IntegrationTests.Infrastructure;

/// <summary>
/// What anyone holding an engine's API reads without exec-ing into a container: every container's configuration
/// (environment, command, entrypoint, labels) and a container's filesystem as the engine exports it (image and
/// writable layer; tmpfs mounts are not in it). The secrets tests look there for the model key and ChatGPT tokens.
/// </summary>
public sealed class ApiHolder(DockerClient client) : IDisposable
{
    internal static ApiHolder For(DockerEngine engine) => new(engine.Connection.CreateClient());

    /// <summary>Where any of <paramref name="values"/> shows in the configuration of a container <paramref name="selector"/> matches.</summary>
    public async Task<IReadOnlyList<string>> LeaksInConfigurationAsync(LabelSelector selector, IReadOnlyList<string> values)
    {
        var leaks = new List<string>();
        var listed = await client.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>>
            {
                ["label"] = selector.Labels.ToDictionary(kv => kv.Value is null ? kv.Key : $"{kv.Key}={kv.Value}", _ => true),
            },
        });
        foreach (var container in listed)
        {
            var inspected = await client.Containers.InspectContainerAsync(container.ID);
            var labels = inspected.Config?.Labels ?? new Dictionary<string, string>();
            var role = labels.TryGetValue(Labels.Role, out var r) ? r : labels.TryGetValue(Labels.Task, out var t) ? t : "?";
            var fields = new Dictionary<string, IEnumerable<string>>
            {
                ["environment"] = inspected.Config?.Env ?? [],
                ["command"] = inspected.Config?.Cmd ?? [],
                ["entrypoint"] = inspected.Config?.Entrypoint ?? [],
                ["labels"] = labels.Select(kv => $"{kv.Key}={kv.Value}"),
                ["args"] = inspected.Args ?? [],
            };
            foreach (var (field, texts) in fields)
            {
                if (texts.Any(t => values.Any(v => t.Contains(v, StringComparison.Ordinal))))
                {
                    leaks.Add($"container {container.ID[..12]} ({role}): its {field}");
                }
            }
        }

        return leaks;
    }

    /// <summary>Whether any of <paramref name="values"/> is in the container's exported filesystem.</summary>
    public async Task<bool> FilesystemHoldsAnyAsync(string containerId, IReadOnlyList<string> values)
    {
        await using var export = await client.Containers.ExportContainerAsync(containerId, CancellationToken.None);
        return await ContainsAnyAsync(export, values.Select(v => Encoding.UTF8.GetBytes(v)).ToList());
    }

    /// <summary>Streams once through <paramref name="stream"/>, keeping enough overlap that no needle is missed at a chunk boundary.</summary>
    public static async Task<bool> ContainsAnyAsync(Stream stream, IReadOnlyList<byte[]> needles)
    {
        var overlap = needles.Max(n => n.Length) - 1;
        var buffer = new byte[(1 << 20) + overlap];
        var kept = 0;
        int read;
        while ((read = await stream.ReadAsync(buffer.AsMemory(kept, buffer.Length - kept))) > 0)
        {
            var window = buffer.AsSpan(0, kept + read);
            foreach (var needle in needles)
            {
                if (window.IndexOf(needle) >= 0)
                {
                    return true;
                }
            }

            kept = Math.Min(overlap, window.Length);
            window[^kept..].CopyTo(buffer);
        }

        return false;
    }

    public void Dispose() => client.Dispose();
}
