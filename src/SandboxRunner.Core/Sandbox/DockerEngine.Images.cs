using System.Net;
using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;

namespace SandboxRunner.Sandbox;

/// <summary><see cref="IImageInventory"/> over the Docker Engine API.</summary>
public sealed partial class DockerEngine : IImageInventory
{
    public async Task<IReadOnlyList<EngineImage>> ListImagesAsync(LabelSelector selector, CancellationToken cancellationToken)
    {
        var images = await _client.Images.ListImagesAsync(new ImagesListParameters { All = false, Filters = LabelFilter(selector) }, cancellationToken);
        return images.Select(i => new EngineImage(
                i.ID,
                (i.RepoTags ?? []).Where(t => t != "<none>:<none>").ToList(),
                i.Labels is null ? new Dictionary<string, string>() : new Dictionary<string, string>(i.Labels),
                i.Size,
                new DateTimeOffset(DateTime.SpecifyKind(i.Created, DateTimeKind.Utc))))
            .ToList();
    }

    public async Task<IReadOnlyList<ContainerImageUse>> ListContainerImagesAsync(CancellationToken cancellationToken)
    {
        var containers = await _client.Containers.ListContainersAsync(new ContainersListParameters { All = true }, cancellationToken);
        return containers.Select(c => new ContainerImageUse(c.ID, c.ImageID, c.State == "running")).ToList();
    }

    public async Task<ImageRemoval> RemoveImageAsync(string reference, CancellationToken cancellationToken)
    {
        try
        {
            var answer = await _client.Images.DeleteImageAsync(reference, new ImageDeleteParameters { Force = false }, cancellationToken);
            var deleted = answer.Any(entry => entry.ContainsKey("Deleted"));
            LogImageRemoved(reference, deleted);
            return new ImageRemoval(deleted, null);
        }
        catch (DockerImageNotFoundException)
        {
            return new ImageRemoval(false, null);
        }
        catch (DockerApiException e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return new ImageRemoval(false, null);
        }
        catch (DockerApiException e) when (e.StatusCode == HttpStatusCode.Conflict)
        {
            return new ImageRemoval(false, Failure($"removing {reference}", e).Message);
        }
        catch (DockerApiException e)
        {
            throw Failure($"removing image {reference}", e);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "image {Reference} removed (image deleted: {Deleted})")]
    private partial void LogImageRemoved(string reference, bool deleted);
}
