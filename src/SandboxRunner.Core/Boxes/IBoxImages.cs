namespace SandboxRunner.Boxes;

/// <summary>An image's id and labels.</summary>
public sealed record ImageFacts(string Id, IReadOnlyDictionary<string, string> Labels);

/// <summary>
/// What a box becomes when committed: a tag, labels, and Dockerfile-style changes to its config
/// (<c>ENTRYPOINT []</c>, <c>USER</c>...) so nothing of the committing box's own command carries over.
/// </summary>
public sealed record ImageCommit(string Tag, IReadOnlyDictionary<string, string> Labels, IReadOnlyList<string> ConfigChanges);

/// <summary>An image of the platform: its id, tags, labels, size and when it was built.</summary>
public sealed record EngineImage(string Id, IReadOnlyList<string> Tags, IReadOnlyDictionary<string, string> Labels, long SizeBytes, DateTimeOffset Created);

/// <summary>A container of the platform (any state, anyone's) and the image it was created from.</summary>
public sealed record ContainerImageUse(string ContainerId, string ImageId, bool Running);

/// <summary>What removing one image reference did: deleted the image, only removed that tag, or was refused.</summary>
public sealed record ImageRemoval(bool Deleted, string? Refusal);

/// <summary>
/// A backend's images: the runner's own built from recipes, environments' found and committed, and the whole
/// cache listed and trimmed (<see cref="ImageCatalog"/>). On a cluster, where its nodes can pull them.
/// </summary>
public interface IBoxImages
{
    Task<bool> ExistsAsync(string image, CancellationToken cancellationToken);

    /// <summary>Builds <paramref name="recipe"/> under its tag; throws <see cref="ImageBuildException"/> with the log's tail when the build fails.</summary>
    Task BuildAsync(ImageRecipe recipe, CancellationToken cancellationToken);

    /// <summary>The image's id and labels, or null when there is no such image.</summary>
    Task<ImageFacts?> InspectAsync(string image, CancellationToken cancellationToken);

    /// <summary>Removes an image tag the runner made; one already gone, or still used, is left without error (the image sweep takes it later).</summary>
    Task DeleteAsync(string image, CancellationToken cancellationToken);

    /// <summary>Top-level images (no intermediate build layers) whose labels <paramref name="selector"/> matches.</summary>
    Task<IReadOnlyList<EngineImage>> ListAsync(LabelSelector selector, CancellationToken cancellationToken);

    /// <summary>Every container of the platform, running or not, whoever made it, and its image.</summary>
    Task<IReadOnlyList<ContainerImageUse>> UsesAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Removes one tag, or an untagged image by id, never forced: the platform refuses an image any container uses
    /// (then <see cref="ImageRemoval.Refusal"/> says why). A reference already gone is not an error.
    /// </summary>
    Task<ImageRemoval> RemoveAsync(string reference, CancellationToken cancellationToken);
}
