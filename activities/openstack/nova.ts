/**
 * A thin typed Nova (compute v2.1) client over the one session, with a fixed microversion (2.79: `networks: none`,
 * createImage answering the image id, embedded flavor details, `delete_on_termination` on volume attachments),
 * plus the few Neutron calls a restore needs to find networks by name.
 */
import { listAllPages, ServiceApi } from './api';
import type { OpenStackSession } from './session';

export const NOVA_MICROVERSION = '2.79';

export interface NovaFlavorInfo {
  original_name: string;
  vcpus: number;
  ram: number;
  disk: number;
  ephemeral?: number;
  swap?: number;
  extra_specs?: Record<string, string>;
}

export interface NovaAddress {
  addr: string;
  version: number;
  'OS-EXT-IPS:type'?: string;
  'OS-EXT-IPS-MAC:mac_addr'?: string;
}

export interface NovaServer {
  id: string;
  name: string;
  status: string;
  /** `""` for a server booted from a volume. */
  image: { id: string } | '';
  flavor: NovaFlavorInfo;
  addresses: Record<string, NovaAddress[]>;
  security_groups?: { name: string }[];
  key_name: string | null;
  metadata: Record<string, string>;
  tags?: string[];
  'OS-EXT-STS:task_state': string | null;
  'OS-EXT-STS:vm_state'?: string;
  'OS-EXT-AZ:availability_zone'?: string;
  'os-extended-volumes:volumes_attached'?: { id: string; delete_on_termination?: boolean }[];
  fault?: { message?: string; code?: number };
  tenant_id?: string;
  created: string;
}

export interface NovaVolumeAttachment {
  id: string;
  volumeId: string;
  serverId: string;
  device: string | null;
  tag?: string | null;
  delete_on_termination?: boolean;
}

export interface NovaFlavor {
  id: string;
  name: string;
  vcpus: number;
  ram: number;
  disk: number;
}

export interface NovaInterface {
  port_id: string;
  net_id: string;
  mac_addr: string;
  fixed_ips: { ip_address: string; subnet_id: string }[];
}

export class NovaClient {
  private readonly api: ServiceApi;
  private readonly network: ServiceApi;

  constructor(session: OpenStackSession) {
    this.api = new ServiceApi(session, 'compute', { 'openstack-api-version': `compute ${NOVA_MICROVERSION}` });
    this.network = new ServiceApi(session, 'network');
  }

  async findServer(id: string, signal?: AbortSignal): Promise<NovaServer | undefined> {
    return (await this.api.jsonOrMissing<{ server: NovaServer }>('GET', `/servers/${encodeURIComponent(id)}`, `get server ${id}`, { signal }))?.server;
  }

  async getServer(id: string, signal?: AbortSignal): Promise<NovaServer> {
    return (await this.api.json<{ server: NovaServer }>('GET', `/servers/${encodeURIComponent(id)}`, `get server ${id}`, { signal })).server;
  }

  async listServers(filter: { name?: string; allTenants?: boolean } = {}, signal?: AbortSignal): Promise<NovaServer[]> {
    return listAllPages(async (marker, limit) => {
      const page = await this.api.json<{ servers: NovaServer[]; servers_links?: { rel: string; href: string }[] }>('GET', '/servers/detail', 'list servers', {
        signal,
        query: { ...(filter.name !== undefined ? { name: `^${filter.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$` } : {}), ...(filter.allTenants ? { all_tenants: 1 } : {}), marker, limit },
      });
      return { items: page.servers, next: page.servers_links?.some((l) => l.rel === 'next') ?? false };
    });
  }

  async createServer(body: Record<string, unknown>, signal?: AbortSignal): Promise<{ id: string }> {
    return (await this.api.json<{ server: { id: string } }>('POST', '/servers', `create server ${typeof body.name === 'string' ? body.name : ''}`, { body: { server: body }, signal })).server;
  }

  async deleteServerMetadataKey(id: string, key: string, signal?: AbortSignal): Promise<void> {
    await this.api.noContent('DELETE', `/servers/${encodeURIComponent(id)}/metadata/${encodeURIComponent(key)}`, `delete metadata ${key} of server ${id}`, { signal, missingOk: true });
  }

  async deleteServer(id: string, signal?: AbortSignal): Promise<boolean> {
    return this.api.noContent('DELETE', `/servers/${encodeURIComponent(id)}`, `delete server ${id}`, { signal, missingOk: true });
  }

  /** Snapshot (createImage): an image of the root disk, or for a volume-backed server a stub image with Cinder snapshots. */
  async createImage(id: string, name: string, metadata: Record<string, string>, signal?: AbortSignal): Promise<{ imageId: string }> {
    const res = await this.api.json<{ image_id: string }>('POST', `/servers/${encodeURIComponent(id)}/action`, `snapshot server ${id}`, {
      body: { createImage: { name, metadata } },
      signal,
    });
    return { imageId: res.image_id };
  }

  async volumeAttachments(id: string, signal?: AbortSignal): Promise<NovaVolumeAttachment[]> {
    return (await this.api.json<{ volumeAttachments: NovaVolumeAttachment[] }>('GET', `/servers/${encodeURIComponent(id)}/os-volume_attachments`, `list volumes of server ${id}`, { signal }))
      .volumeAttachments;
  }

  async interfaces(id: string, signal?: AbortSignal): Promise<NovaInterface[]> {
    return (await this.api.json<{ interfaceAttachments: NovaInterface[] }>('GET', `/servers/${encodeURIComponent(id)}/os-interface`, `list ports of server ${id}`, { signal }))
      .interfaceAttachments;
  }

  async listFlavors(signal?: AbortSignal): Promise<NovaFlavor[]> {
    return (await this.api.json<{ flavors: NovaFlavor[] }>('GET', '/flavors/detail', 'list flavors', { signal, query: { is_public: 'None' } })).flavors;
  }

  async findKeypair(name: string, signal?: AbortSignal): Promise<{ name: string } | undefined> {
    return (await this.api.jsonOrMissing<{ keypair: { name: string } }>('GET', `/os-keypairs/${encodeURIComponent(name)}`, `get keypair ${name}`, { signal }))?.keypair;
  }

  async createKeypair(name: string, publicKey?: string, signal?: AbortSignal): Promise<void> {
    await this.api.noContent('POST', '/os-keypairs', `create keypair ${name}`, { body: { keypair: { name, ...(publicKey ? { public_key: publicKey } : {}) } }, signal });
  }

  async deleteKeypair(name: string, signal?: AbortSignal): Promise<boolean> {
    return this.api.noContent('DELETE', `/os-keypairs/${encodeURIComponent(name)}`, `delete keypair ${name}`, { signal, missingOk: true });
  }

  async attachVolume(serverId: string, volumeId: string, signal?: AbortSignal): Promise<void> {
    await this.api.noContent('POST', `/servers/${encodeURIComponent(serverId)}/os-volume_attachments`, `attach volume ${volumeId} to server ${serverId}`, {
      body: { volumeAttachment: { volumeId } },
      signal,
    });
  }

  /** Neutron networks with this exact name visible to the project. */
  async networksNamed(name: string, signal?: AbortSignal): Promise<{ id: string; name: string }[]> {
    return (await this.network.json<{ networks: { id: string; name: string }[] }>('GET', '/v2.0/networks', `find network ${name}`, { signal, query: { name } })).networks;
  }
}
