using ICSharpCode.SharpZipLib.Tar;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;

namespace SandboxRunner.Tests.Sandbox;

public sealed class TreeArchiveTests : IDisposable
{
    private readonly string _dest = Directory.CreateTempSubdirectory("sr-extract-").FullName;
    private static readonly ExtractionBounds Bounds = new(1024 * 1024, 100, 64 * 1024, 16, 1000);

    public void Dispose() => Directory.Delete(_dest, recursive: true);

    private static MemoryStream Tar(params (string Name, byte Type, string Content, string? Link)[] entries)
    {
        var stream = new MemoryStream();
        using (var tar = new TarOutputStream(stream, System.Text.Encoding.UTF8) { IsStreamOwner = false })
        {
            foreach (var (name, type, content, link) in entries)
            {
                var entry = TarEntry.CreateTarEntry(name);
                entry.TarHeader.TypeFlag = type;
                entry.TarHeader.Mode = 0b110_100_100;
                entry.Size = type == TarHeader.LF_NORMAL ? content.Length : 0;
                if (link is not null)
                {
                    entry.TarHeader.LinkName = link;
                }

                tar.PutNextEntry(entry);
                if (type == TarHeader.LF_NORMAL)
                {
                    tar.Write(System.Text.Encoding.UTF8.GetBytes(content));
                }

                tar.CloseEntry();
            }
        }

        stream.Position = 0;
        return stream;
    }

    private Task<ExtractionReport> Extract(MemoryStream tar, ExtractionBounds? bounds = null) =>
        TreeArchive.ExtractAsync(tar, _dest, "workspace", bounds ?? Bounds, CancellationToken.None);

    [Fact]
    public async Task Nothing_is_written_through_a_link_the_archive_made()
    {
        var outside = Directory.CreateTempSubdirectory("sr-outside-").FullName;
        try
        {
            var report = await Extract(Tar(("workspace/a", TarHeader.LF_SYMLINK, "", outside), ("workspace/a/x", TarHeader.LF_NORMAL, "pwned", null)));

            Assert.Empty(Directory.EnumerateFileSystemEntries(outside));
            Assert.Contains(report.Skipped, s => s.Reason == SkipReason.UnsafeName && s.Path == "a/x");
            Assert.Equal(outside, new FileInfo(Path.Combine(_dest, "a")).LinkTarget);
        }
        finally
        {
            Directory.Delete(outside, recursive: true);
        }
    }

    [Fact]
    public async Task Parent_segments_and_entries_outside_the_folder_are_refused()
    {
        var report = await Extract(Tar(("workspace/../escape", TarHeader.LF_NORMAL, "x", null), ("other/file", TarHeader.LF_NORMAL, "x", null)));

        Assert.Equal(2, report.Skipped.Count(s => s.Reason == SkipReason.UnsafeName));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dest));
        Assert.False(File.Exists(Path.Combine(Path.GetDirectoryName(_dest)!, "escape")));
    }

    [Fact]
    public async Task Fifos_and_devices_are_not_created_and_hard_links_out_of_the_tree_are_refused()
    {
        var report = await Extract(Tar(
            ("workspace/f", TarHeader.LF_FIFO, "", null),
            ("workspace/d", TarHeader.LF_CHR, "", null),
            ("workspace/h", TarHeader.LF_LINK, "", "/etc/passwd"),
            ("workspace/ok", TarHeader.LF_NORMAL, "ok", null),
            ("workspace/copy", TarHeader.LF_LINK, "", "workspace/ok")));

        Assert.Equal(["d", "f"], report.Skipped.Where(s => s.Reason == SkipReason.SpecialFile).Select(s => s.Path).Order());
        Assert.Contains(report.Skipped, s => s.Reason == SkipReason.UnsafeName && s.Path == "h");
        Assert.Equal("ok", File.ReadAllText(Path.Combine(_dest, "copy")));
        Assert.Equal(["copy", "ok"], Directory.EnumerateFileSystemEntries(_dest).Select(Path.GetFileName).Order());
    }

    [Fact]
    public async Task Past_the_byte_or_entry_bound_the_extraction_stops_and_names_the_limit()
    {
        var bytes = await Extract(Tar(("workspace/a", TarHeader.LF_NORMAL, new string('x', 600), null), ("workspace/b", TarHeader.LF_NORMAL, new string('x', 600), null)),
            Bounds with { MaxBytes = 1000 });

        Assert.Equal("max_tree_bytes (1000)", bytes.OverLimit);
    }

    private void Existing(string relative, string content)
    {
        var full = Path.Combine(_dest, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllText(full, content);
        File.SetLastWriteTimeUtc(full, Old);
    }

    private static readonly DateTime Old = new(2001, 2, 3, 0, 0, 0, DateTimeKind.Utc);

    [Fact]
    public async Task Over_a_tree_already_there_unchanged_files_are_left_as_they_were_and_changed_ones_rewritten()
    {
        Existing("src/same.txt", "same");
        Existing("src/changed.txt", "before");

        await Extract(Tar(
            ("workspace/src/", TarHeader.LF_DIR, "", null),
            ("workspace/src/same.txt", TarHeader.LF_NORMAL, "same", null),
            ("workspace/src/changed.txt", TarHeader.LF_NORMAL, "after!", null)));

        Assert.Equal(Old, File.GetLastWriteTimeUtc(Path.Combine(_dest, "src/same.txt")));
        Assert.Equal("after!", File.ReadAllText(Path.Combine(_dest, "src/changed.txt")));
        Assert.NotEqual(Old, File.GetLastWriteTimeUtc(Path.Combine(_dest, "src/changed.txt")));
    }

    [Fact]
    public async Task A_file_of_the_same_length_but_other_bytes_is_rewritten()
    {
        Existing("a.txt", "abcd");

        await Extract(Tar(("workspace/a.txt", TarHeader.LF_NORMAL, "abce", null)));

        Assert.Equal("abce", File.ReadAllText(Path.Combine(_dest, "a.txt")));
    }

    [Fact]
    public async Task What_the_archive_does_not_hold_is_removed_from_the_tree_already_there()
    {
        Existing("kept.txt", "k");
        Existing("gone.txt", "g");
        Existing("olddir/deep/f.txt", "f");
        Directory.CreateSymbolicLink(Path.Combine(_dest, "oldlink"), "kept.txt");

        await Extract(Tar(("workspace/kept.txt", TarHeader.LF_NORMAL, "k", null)));

        Assert.Equal(["kept.txt"], Directory.EnumerateFileSystemEntries(_dest).Select(Path.GetFileName));
    }

    [Fact]
    public async Task A_folder_already_there_that_became_a_file_is_removed_with_its_content()
    {
        Existing("src/inner/a.txt", "a");

        var report = await Extract(Tar(("workspace/src", TarHeader.LF_NORMAL, "now a file", null), ("workspace/src/inner/a.txt", TarHeader.LF_NORMAL, "a", null)));

        Assert.Equal("now a file", File.ReadAllText(Path.Combine(_dest, "src")));
        Assert.Contains(report.Skipped, s => s.Reason == SkipReason.UnsafeName && s.Path == "src/inner/a.txt");
        Assert.Equal(["src"], Directory.EnumerateFileSystemEntries(_dest).Select(Path.GetFileName));
    }

    [Fact]
    public async Task Nothing_is_written_through_a_link_already_there()
    {
        var outside = Directory.CreateTempSubdirectory("sr-outside-").FullName;
        try
        {
            Directory.CreateSymbolicLink(Path.Combine(_dest, "committed-link"), outside);
            File.WriteAllText(Path.Combine(outside, "victim"), "untouched");
            Directory.CreateSymbolicLink(Path.Combine(_dest, "other-link"), outside);

            await Extract(Tar(
                ("workspace/committed-link/victim", TarHeader.LF_NORMAL, "pwned", null),
                ("workspace/other-link", TarHeader.LF_NORMAL, "a file now", null)));

            Assert.Equal("untouched", File.ReadAllText(Path.Combine(outside, "victim")));
            Assert.Equal(["victim"], Directory.EnumerateFileSystemEntries(outside).Select(Path.GetFileName));
            // The archive says that path is a folder: the link is replaced by one, never followed.
            Assert.Null(new DirectoryInfo(Path.Combine(_dest, "committed-link")).LinkTarget);
            Assert.Equal("pwned", File.ReadAllText(Path.Combine(_dest, "committed-link", "victim")));
            Assert.Null(new FileInfo(Path.Combine(_dest, "other-link")).LinkTarget);
            Assert.Equal("a file now", File.ReadAllText(Path.Combine(_dest, "other-link")));
        }
        finally
        {
            Directory.Delete(outside, recursive: true);
        }
    }

    [Fact]
    public async Task A_file_already_there_is_gone_when_the_archive_holds_a_fifo_in_its_place()
    {
        Existing("src/.gitignore", "*.o\n");

        var report = await Extract(Tar(("workspace/src/", TarHeader.LF_DIR, "", null), ("workspace/src/.gitignore", TarHeader.LF_FIFO, "", null)));

        Assert.Contains(report.Skipped, s => s.Reason == SkipReason.SpecialFile && s.Path == "src/.gitignore");
        Assert.False(File.Exists(Path.Combine(_dest, "src/.gitignore")));
    }
}
