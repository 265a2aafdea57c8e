using System.Net;
using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;
using static SandboxRunner.Boxes.Docker.DockerErrors;

namespace SandboxRunner.Boxes.Docker;

/// <summary><see cref="IBoxImages"/> over the Docker Engine API: the engine's own image store, which every container on it starts from.</summary>
internal sealed partial class DockerImages(DockerClient client, ILogger logger, ResourceLabels labels) : IBoxImages
{
    public async Task<bool> ExistsAsync(string image, CancellationToken cancellationToken)
    {
        try
        {
            await client.Images.InspectImageAsync(image, cancellationToken);
            return true;
        }
        catch (DockerImageNotFoundException)
        {
            return false;
        }
        catch (DockerApiException e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
    }

    public async Task BuildAsync(ImageRecipe recipe, CancellationToken cancellationToken)
    {
        var log = new List<string>();
        string? error = null;
        using var context = recipe.ContextTar();
        var progress = new Progress<JSONMessage>(m =>
        {
            lock (log)
            {
                if (!string.IsNullOrWhiteSpace(m.Stream))
                {
                    log.Add(m.Stream.TrimEnd());
                }

                if (m.Error is { } e && !string.IsNullOrEmpty(e.Message))
                {
                    error = e.Message;
                }
            }
        });

        LogBuilding(recipe.Tag);
        try
        {
            await client.Images.BuildImageFromDockerfileAsync(
                new ImageBuildParameters
                {
                    Tags = [recipe.Tag],
                    Dockerfile = recipe.DockerfilePath,
                    BuildArgs = new Dictionary<string, string>(recipe.BuildArgs),
                    Labels = labels.Stamp(recipe.Labels),
                    Remove = true,
                    ForceRemove = true,
                },
                context,
                [],
                new Dictionary<string, string>(),
                progress,
                cancellationToken);
        }
        catch (DockerApiException e)
        {
            error ??= e.ResponseBody;
        }

        // Progress reports are posted; give the last ones a moment before judging.
        await Task.Delay(50, cancellationToken);
        if (error is not null || !await ExistsAsync(recipe.Tag, cancellationToken))
        {
            string tail;
            lock (log)
            {
                tail = string.Join('\n', log.TakeLast(20));
            }

            throw new ImageBuildException($"building {recipe.Tag} failed: {error ?? "no image was produced"}\n--- last lines of the build log ---\n{tail}");
        }
    }

    public async Task<ImageFacts?> InspectAsync(string image, CancellationToken cancellationToken)
    {
        try
        {
            var inspected = await client.Images.InspectImageAsync(image, cancellationToken);
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

    public async Task DeleteAsync(string image, CancellationToken cancellationToken)
    {
        try
        {
            await client.Images.DeleteImageAsync(image, new ImageDeleteParameters { Force = false }, cancellationToken);
        }
        catch (DockerApiException)
        {
            // Gone already, or used by a container that is still being removed: the image sweep takes it later.
        }
    }

    public async Task<IReadOnlyList<EngineImage>> ListAsync(LabelSelector selector, CancellationToken cancellationToken)
    {
        var images = await client.Images.ListImagesAsync(new ImagesListParameters { All = false, Filters = LabelFilter(selector) }, cancellationToken);
        return images.Select(i => new EngineImage(
                i.ID,
                (i.RepoTags ?? []).Where(t => t != "<none>:<none>").ToList(),
                i.Labels is null ? new Dictionary<string, string>() : new Dictionary<string, string>(i.Labels),
                i.Size,
                new DateTimeOffset(DateTime.SpecifyKind(i.Created, DateTimeKind.Utc))))
            .ToList();
    }

    public async Task<IReadOnlyList<ContainerImageUse>> UsesAsync(CancellationToken cancellationToken)
    {
        var containers = await client.Containers.ListContainersAsync(new ContainersListParameters { All = true }, cancellationToken);
        return containers.Select(c => new ContainerImageUse(c.ID, c.ImageID, c.State == "running")).ToList();
    }

    public async Task<ImageRemoval> RemoveAsync(string reference, CancellationToken cancellationToken)
    {
        try
        {
            var answer = await client.Images.DeleteImageAsync(reference, new ImageDeleteParameters { Force = false }, cancellationToken);
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

    [LoggerMessage(Level = LogLevel.Information, Message = "building image {Tag}")]
    private partial void LogBuilding(string tag);

    [LoggerMessage(Level = LogLevel.Information, Message = "image {Reference} removed (image deleted: {Deleted})")]
    private partial void LogImageRemoved(string reference, bool deleted);
}
