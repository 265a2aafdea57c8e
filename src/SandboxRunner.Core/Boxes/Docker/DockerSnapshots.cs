using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;
using static SandboxRunner.Boxes.Docker.DockerErrors;

namespace SandboxRunner.Boxes.Docker;

/// <summary>Containers compared with their images and committed as images: what environments are built from.</summary>
internal sealed partial class DockerSnapshots(DockerClient client, ILogger logger, ResourceLabels labels)
{
    public async Task<string> CommitAsync(string containerId, ImageCommit commit, CancellationToken cancellationToken)
    {
        var colon = commit.Tag.LastIndexOf(':');
        var changes = commit.ConfigChanges.Concat(labels.Stamp(commit.Labels).Select(kv => $"LABEL {Quote(kv.Key)}={Quote(kv.Value)}")).ToList();
        try
        {
            var response = await client.Images.CommitContainerChangesAsync(new CommitContainerChangesParameters
            {
                ContainerID = containerId,
                RepositoryName = colon > 0 ? commit.Tag[..colon] : commit.Tag,
                Tag = colon > 0 ? commit.Tag[(colon + 1)..] : "latest",
                Changes = changes,
                Pause = false,
            }, cancellationToken);
            LogCommitted(Short(containerId), commit.Tag);
            return response.ID;
        }
        catch (DockerApiException e)
        {
            throw Failure($"committing container {Short(containerId)} as {commit.Tag}", e);
        }
    }

    /// <summary>Costs the engine a walk of the container's own layer only.</summary>
    public async Task<long?> WrittenBytesAsync(string containerId, CancellationToken cancellationToken)
    {
        try
        {
            var inspected = await client.Containers.InspectContainerAsync(containerId, new ContainerInspectParameters { IncludeSize = true }, cancellationToken);
            return inspected.SizeRw;
        }
        catch (DockerApiException e)
        {
            throw Failure($"measuring the filesystem layer of container {Short(containerId)}", e);
        }
    }

    public async Task<IReadOnlyList<PathChange>?> ChangesAsync(string containerId, int maxEntries, CancellationToken cancellationToken)
    {
        IList<ContainerFileSystemChangeResponse> changes;
        try
        {
            // Docker 20.10 answers `null`, not `[]`, for a container whose filesystem is unchanged.
            changes = await client.Containers.InspectChangesAsync(containerId, cancellationToken) ?? [];
        }
        catch (DockerApiException e)
        {
            throw Failure($"listing the changes of container {Short(containerId)}", e);
        }

        if (changes.Count > maxEntries)
        {
            return null;
        }

        return changes.Select(c => new PathChange(c.Path, c.Kind switch
        {
            FileSystemChangeKind.Add => PathChangeKind.Added,
            FileSystemChangeKind.Delete => PathChangeKind.Deleted,
            _ => PathChangeKind.Modified,
        })).ToList();
    }

    /// <summary>A Dockerfile LABEL word: JSON-style double quotes, which the engine's parser accepts.</summary>
    private static string Quote(string value) => System.Text.Json.JsonSerializer.Serialize(value);

    [LoggerMessage(Level = LogLevel.Information, Message = "container {Id} committed as {Tag}")]
    private partial void LogCommitted(string id, string tag);
}
