namespace SandboxRunner.Boxes;

/// <summary>
/// The engine's images as a cache to inspect and trim (<see cref="ImageCatalog"/>). A seam of its own,
/// beside <see cref="IImageOperations"/>: only the image verbs need it.
/// </summary>
public interface IImageInventory
{
    /// <summary>Top-level images (no intermediate build layers) whose labels <paramref name="selector"/> matches.</summary>
    Task<IReadOnlyList<EngineImage>> ListImagesAsync(LabelSelector selector, CancellationToken cancellationToken);

    /// <summary>Every container of the engine, running or not, whoever made it.</summary>
    Task<IReadOnlyList<ContainerImageUse>> ListContainerImagesAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Removes one tag, or an untagged image by id, never forced: the engine refuses an image any container
    /// uses (then <see cref="ImageRemoval.Refusal"/> says why). A reference already gone is not an error.
    /// </summary>
    Task<ImageRemoval> RemoveImageAsync(string reference, CancellationToken cancellationToken);
}
