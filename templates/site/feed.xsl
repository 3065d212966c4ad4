<?xml version="1.0" encoding="UTF-8"?>
<!--
  Shows an RSS 2.0 or Atom feed of {{ site.title }} as a web page when someone opens it in a
  browser: what a feed is, the address to copy into a feed reader, and the latest items.
  Feed readers ignore this file.
-->
<xsl:stylesheet version="1.0"
  xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
  xmlns:atom="http://www.w3.org/2005/Atom"
  exclude-result-prefixes="atom">
<xsl:output method="html" encoding="UTF-8" indent="yes" doctype-system="about:legacy-compat"/>

<xsl:variable name="title" select="/rss/channel/title | /atom:feed/atom:title"/>
<xsl:variable name="feed-url"
  select="/rss/channel/atom:link[@rel='self']/@href | /atom:feed/atom:link[@rel='self']/@href"/>
<xsl:variable name="home"
  select="/rss/channel/link | /atom:feed/atom:link[@rel='alternate']/@href"/>
<xsl:variable name="format">
  <xsl:choose>
    <xsl:when test="/atom:feed">Atom</xsl:when>
    <xsl:otherwise>RSS</xsl:otherwise>
  </xsl:choose>
</xsl:variable>

<xsl:template match="/">
<html lang="{{ site.language }}">
<head>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<title><xsl:value-of select="$title"/> (<xsl:value-of select="$format"/> feed)</title>
<link rel="stylesheet" href="{{ root }}style.css"/>
</head>
<body>
<a class="skip-link" href="#main">Skip to content</a>
<header class="site-header">
<div class="wrap">
<a class="site-title" href="{{ root }}">{{ site.title }}</a>
</div>
</header>
<main id="main" class="wrap" tabindex="-1">
<h1><xsl:value-of select="$title"/></h1>
<section class="feed-help" aria-labelledby="feed-help-title">
<h2 id="feed-help-title">This is a web feed</h2>
<p>You are looking at the <xsl:value-of select="$format"/> feed of
<a href="{$home}"><xsl:value-of select="$title"/></a>. A feed reader checks it for you and
shows each new article as it is published, with no account and no email.</p>
<p>To subscribe, copy this address into your feed reader (an app or a web service; many are
free):</p>
<p class="feed-url"><code><xsl:value-of select="$feed-url"/></code></p>
<p>Rather have email? <a href="{{ root }}subscribe/">Subscribe to the digest</a>.</p>
</section>
<h2>Latest articles</h2>
<xsl:choose>
<xsl:when test="/rss/channel/item | /atom:feed/atom:entry">
<ol class="article-list">
<xsl:apply-templates select="/rss/channel/item | /atom:feed/atom:entry"/>
</ol>
</xsl:when>
<xsl:otherwise><p>Nothing has been published here yet.</p></xsl:otherwise>
</xsl:choose>
</main>
</body>
</html>
</xsl:template>

<xsl:template match="item">
<li><article>
<h3><a href="{link}"><xsl:value-of select="title"/></a></h3>
<p class="meta"><xsl:value-of select="substring(pubDate, 6, 11)"/></p>
</article></li>
</xsl:template>

<xsl:template match="atom:entry">
<li><article>
<h3><a href="{atom:link[@rel='alternate']/@href}"><xsl:value-of select="atom:title"/></a></h3>
<p class="meta"><xsl:value-of select="substring((atom:published | atom:updated)[1], 1, 10)"/></p>
</article></li>
</xsl:template>
</xsl:stylesheet>
