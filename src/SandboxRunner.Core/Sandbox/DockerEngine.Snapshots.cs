using Docker.DotNet;
using Docker.DotNet.Models;

namespace SandboxRunner.Sandbox;

/// <summary><see cref="ISnapshotOperations"/> over the Docker Engine API.</summary>
public sealed partial class DockerEngine
{
    public async Task<ImageFacts?> InspectImageAsync(string image, CancellationToken cancellationToken)
    {
        try
        {
            var inspected = await _client.Images.InspectImageAsync(image, cancellationToken);
            var labels = inspected.Config?.Labels is { } l ? new Dictionary<string, string>(l) : new Dictionary<string, string>();
            return new ImageFacts(inspected.ID, labels);
        }
        catch (DockerImageNotFoundException)
        {
            return null;
        }
        catch (DockerApiException e)
        {
            throw Failure($"inspecting image {image}", e);
        }
    }

    public async Task<string> CommitAsync(string containerId, ImageCommit commit, CancellationToken cancellationToken)
    {
        var colon = commit.Tag.LastIndexOf(':');
        var changes = commit.ConfigChanges.Concat(WithExtraLabels(commit.Labels).Select(kv => $"LABEL {Quote(kv.Key)}={Quote(kv.Value)}")).ToList();
        try
        {
            var response = await _client.Images.CommitContainerChangesAsync(new CommitContainerChangesParameters
            {
                ContainerID = containerId,
                RepositoryName = colon > 0 ? commit.Tag[..colon] : commit.Tag,
                Tag = colon > 0 ? commit.Tag[(colon + 1)..] : "latest",
                Changes = changes,
                Pause = false,
            }, cancellationToken);
            return response.ID;
        }
        catch (DockerApiException e)
        {
            throw Failure($"committing container {containerId[..Math.Min(12, containerId.Length)]} as {commit.Tag}", e);
        }
    }

    public async Task<long?> WrittenBytesAsync(string containerId, CancellationToken cancellationToken)
    {
        try
        {
            var inspected = await _client.Containers.InspectContainerAsync(containerId, new ContainerInspectParameters { IncludeSize = true }, cancellationToken);
            return inspected.SizeRw;
        }
        catch (DockerApiException e)
        {
            throw Failure($"measuring the filesystem layer of container {containerId[..Math.Min(12, containerId.Length)]}", e);
        }
    }

    public async Task<IReadOnlyList<PathChange>?> ChangesAsync(string containerId, int maxEntries, CancellationToken cancellationToken)
    {
        IList<ContainerFileSystemChangeResponse> changes;
        try
        {
            // Docker 20.10 answers `null`, not `[]`, for a container whose filesystem is unchanged.
            changes = await _client.Containers.InspectChangesAsync(containerId, cancellationToken) ?? [];
        }
        catch (DockerApiException e)
        {
            throw Failure($"listing the changes of container {containerId[..Math.Min(12, containerId.Length)]}", e);
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

    public async Task DeleteImageAsync(string image, CancellationToken cancellationToken)
    {
        try
        {
            await _client.Images.DeleteImageAsync(image, new ImageDeleteParameters { Force = false }, cancellationToken);
        }
        catch (DockerApiException)
        {
            // Gone already, or used by a container that is still being removed: the image sweep takes it later.
        }
    }

    /// <summary>A Dockerfile LABEL word: JSON-style double quotes, which the engine's parser accepts.</summary>
    private static string Quote(string value) => System.Text.Json.JsonSerializer.Serialize(value);
}
